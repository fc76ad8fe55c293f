package tlsnames_test

import (
	"crypto/tls"
	"testing"

	"github.com/wasitls/wasitls/tlsnames"
)

// TestAgreesWithCryptoTLS checks every name crypto/tls also knows against
// crypto/tls's own spelling, so the two never drift apart.
func TestAgreesWithCryptoTLS(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		if got, want := tlsnames.Version(v), tls.VersionName(v); got != want {
			t.Errorf("Version(%#04x) = %q; crypto/tls says %q", v, got, want)
		}
	}
	suites := append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
	for _, s := range suites {
		if got := tlsnames.CipherSuite(s.ID); got != s.Name {
			t.Errorf("CipherSuite(%#04x) = %q; crypto/tls says %q", s.ID, got, s.Name)
		}
	}
	// crypto/tls's CurveID.String spells the NIST curves as Go constants
	// (CurveP256); the names here are the curves' own ("P-256").
	for _, g := range []tls.CurveID{tls.X25519, tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024} {
		if got, want := tlsnames.Group(uint16(g)), g.String(); got != want {
			t.Errorf("Group(%#04x) = %q; crypto/tls says %q", uint16(g), got, want)
		}
	}
	for _, s := range []tls.SignatureScheme{tls.PKCS1WithSHA256, tls.ECDSAWithP256AndSHA256,
		tls.PSSWithSHA256, tls.Ed25519, tls.ECDSAWithP521AndSHA512} {
		// crypto/tls's String is the Go constant name; compare through the
		// IANA spelling by checking the name is known at all.
		if got := tlsnames.SignatureScheme(uint16(s)); got == "" || got[0] == '0' {
			t.Errorf("SignatureScheme(%#04x) is unknown", uint16(s))
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{tlsnames.Describe(tlsnames.Version, 0x0304), "TLS 1.3 (0x0304)"},
		{tlsnames.Describe(tlsnames.CipherSuite, 0x1301), "TLS_AES_128_GCM_SHA256 (0x1301)"},
		{tlsnames.Describe(tlsnames.Group, 0x11ec), "X25519MLKEM768 (0x11ec)"},
		{tlsnames.Describe(tlsnames.Group, 0x0201), "MLKEM768 (0x0201)"},
		{tlsnames.Describe(tlsnames.Group, 0x0017), "P-256 (0x0017)"},
		{tlsnames.Describe(tlsnames.SignatureScheme, 0x0905), "mldsa65 (0x0905)"},
		{tlsnames.Describe(tlsnames.Group, 0xfafa), "0xfafa"},
		{tlsnames.List(tlsnames.Group, []uint16{0x11ec, 0x001d}), "X25519MLKEM768 (0x11ec), X25519 (0x001d)"},
		{tlsnames.List(tlsnames.Group, nil), "none"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}
