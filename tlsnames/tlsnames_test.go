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

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		parse func(string) (uint16, error)
		in    string
		want  uint16
	}{
		{tlsnames.ParseVersion, "TLS 1.3", 0x0304},
		{tlsnames.ParseVersion, "tls1.2", 0x0303},
		{tlsnames.ParseVersion, "1.3", 0x0304},
		{tlsnames.ParseVersion, "0x0304", 0x0304},
		{tlsnames.ParseCipherSuite, "tls_aes_256_gcm_sha384", 0x1302},
		{tlsnames.ParseCipherSuite, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b},
		{tlsnames.ParseGroup, "X25519MLKEM768", 0x11ec},
		{tlsnames.ParseGroup, " p256 ", 0x0017},
		{tlsnames.ParseGroup, "P-384", 0x0018},
		{tlsnames.ParseGroup, "secp521r1", 0x0019},
		{tlsnames.ParseGroup, "mlkem1024", 0x0202},
		{tlsnames.ParseGroup, "0xfafa", 0xfafa},
	} {
		got, err := tc.parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parse(%q) = %#04x, %v; want %#04x", tc.in, got, err, tc.want)
		}
	}
	// Every name a table prints parses back to its code point.
	for _, tc := range []struct {
		name  func(uint16) string
		parse func(string) (uint16, error)
	}{{tlsnames.Version, tlsnames.ParseVersion}, {tlsnames.CipherSuite, tlsnames.ParseCipherSuite}, {tlsnames.Group, tlsnames.ParseGroup}} {
		for id := range 1 << 16 {
			if n := tc.name(uint16(id)); n[0] != '0' {
				if got, err := tc.parse(n); err != nil || got != uint16(id) {
					t.Errorf("parse(%q) = %#04x, %v; want %#04x", n, got, err, id)
				}
			}
		}
	}
	for _, bad := range []string{"", "x25519mlkem", "0x", "0x10000", "1.4", "42"} {
		if _, err := tlsnames.ParseGroup(bad); err == nil {
			t.Errorf("ParseGroup(%q) succeeded", bad)
		}
	}
	if _, err := tlsnames.ParseGroup("x448mlkem"); err == nil || err.Error() != `unknown group "x448mlkem" (want a name or a 0x code point)` {
		t.Errorf("error = %v", err)
	}
	got, err := tlsnames.ParseList(tlsnames.ParseGroup, "X25519MLKEM768, x25519,0x0017")
	if err != nil || len(got) != 3 || got[0] != 0x11ec || got[1] != 0x001d || got[2] != 0x0017 {
		t.Errorf("ParseList = %#04x, %v", got, err)
	}
}
