package circlpq

import "testing"

// TestSupportedIsImplemented keeps Supported true to the engine: every
// group it lists has a key exchange and every suite an AEAD, and every
// group the engine implements is listed.
func TestSupportedIsImplemented(t *testing.T) {
	a := Backend{}.Supported()
	for _, g := range a.Groups {
		if !isGroupSupported(g) {
			t.Errorf("Supported lists group %#04x, which has no key exchange", g)
		}
	}
	for id := 0; id <= 0xffff; id++ {
		if isGroupSupported(uint16(id)) && !contains(a.Groups, uint16(id)) {
			t.Errorf("group %#04x is implemented but not listed by Supported", id)
		}
	}
	for _, s := range a.CipherSuites {
		if cipherSuiteByID(s) == nil {
			t.Errorf("Supported lists cipher suite %#04x, which is not implemented", s)
		}
	}
	if len(a.CipherSuites) != len(cipherSuites) {
		t.Errorf("Supported lists %d cipher suites; the engine has %d", len(a.CipherSuites), len(cipherSuites))
	}
	if len(a.Versions) != 1 || a.Versions[0] != versionTLS13 {
		t.Errorf("Supported versions %#04x; want TLS 1.3 only", a.Versions)
	}
}
