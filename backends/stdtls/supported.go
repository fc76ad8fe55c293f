package stdtls

import (
	"crypto/tls"

	"github.com/wasitls/wasitls/backends"
)

// supported is what Supported reports, built once.
var supported = func() backends.Algorithms {
	a := backends.Algorithms{
		// The host offers nothing below TLS 1.2 (RFC 8996).
		Versions:     []uint16{tls.VersionTLS13, tls.VersionTLS12},
		CipherSuites: append([]uint16(nil), tls13Suites...),
		Groups:       curvesToUint16(supportedGroups),
	}
	// crypto/tls's secure TLS 1.2 suites; its InsecureCipherSuites never.
	for _, cs := range tls.CipherSuites() {
		if !cs.Insecure && !containsUint16(a.CipherSuites, cs.ID) {
			a.CipherSuites = append(a.CipherSuites, cs.ID)
		}
	}
	return a
}()

// Supported reports what crypto/tls implements and the host may offer:
// TLS 1.3 and 1.2; the three TLS 1.3 cipher suites and the TLS 1.2 suites
// of tls.CipherSuites (crypto/tls's secure list, not
// tls.InsecureCipherSuites); the groups X25519MLKEM768, SecP256r1MLKEM768,
// SecP384r1MLKEM1024, X25519, P-256, P-384 and P-521.
func (Backend) Supported() backends.Algorithms { return supported }

var _ backends.Describer = Backend{}

func containsUint16(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
