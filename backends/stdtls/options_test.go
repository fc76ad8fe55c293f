package stdtls

import (
	"crypto/tls"
	"errors"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

func TestApplyOptions(t *testing.T) {
	for _, tc := range []struct {
		name        string
		o           backends.Options
		unsupported bool // error wrapping ErrNotSupported
		fails       bool // any error
		min, max    uint16
		suites      []uint16
		groups      []tls.CurveID
	}{
		{name: "Defaults"},
		{name: "TLS13Only", o: backends.Options{Versions: []uint16{0x0304}}, min: 0x0304, max: 0x0304},
		{name: "TLS12And13", o: backends.Options{Versions: []uint16{0x0304, 0x0303}}, min: 0x0303, max: 0x0304},
		{name: "UnknownVersionsOnly", o: backends.Options{Versions: []uint16{0x0200, 0x7f1c}}, unsupported: true},
		{name: "SomeTLS13Suites", o: backends.Options{CipherSuites: []uint16{tls.TLS_AES_256_GCM_SHA384}}, unsupported: true},
		{name: "AllTLS13Suites", o: backends.Options{CipherSuites: []uint16{0x1301, 0x1302, 0x1303}}, min: 0x0304},
		{name: "TLS12SuitesOnly", o: backends.Options{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0xffff}},
			max: 0x0303, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
		{name: "TLS13RequiredWithoutTLS13Suites", o: backends.Options{Versions: []uint16{0x0304},
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, fails: true},
		{name: "SomeTLS13SuitesOnTLS12", o: backends.Options{Versions: []uint16{0x0303},
			CipherSuites: []uint16{0x1301, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}},
			min: 0x0303, max: 0x0303, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}},
		{name: "Groups", o: backends.Options{Groups: []uint16{0x0201, 0x001d, 0x11ec, 0x001d}},
			groups: []tls.CurveID{tls.X25519, tls.X25519MLKEM768}},
		{name: "UnknownGroupsOnly", o: backends.Options{Groups: []uint16{0x0201, 0x0202}}, unsupported: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg tls.Config
			err := applyOptions(&cfg, &tc.o)
			switch {
			case tc.unsupported:
				if !errors.Is(err, backends.ErrNotSupported) {
					t.Fatalf("err = %v; want ErrNotSupported", err)
				}
				return
			case tc.fails:
				if err == nil {
					t.Fatal("no error")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if cfg.MinVersion != tc.min || cfg.MaxVersion != tc.max {
				t.Errorf("versions %#04x..%#04x; want %#04x..%#04x", cfg.MinVersion, cfg.MaxVersion, tc.min, tc.max)
			}
			if !slices.Equal(cfg.CipherSuites, tc.suites) {
				t.Errorf("suites %#04x; want %#04x", cfg.CipherSuites, tc.suites)
			}
			if !slices.Equal(cfg.CurvePreferences, tc.groups) {
				t.Errorf("groups %v; want %v", cfg.CurvePreferences, tc.groups)
			}
		})
	}
}

// TestSupportedIsAccepted checks that applyOptions accepts every group and
// cipher suite Supported lists, one at a time: Supported is the ceiling the
// host puts on guests, so it must not name what the backend refuses.
func TestSupportedIsAccepted(t *testing.T) {
	a := Backend{}.Supported()
	for _, g := range a.Groups {
		var cfg tls.Config
		if err := applyOptions(&cfg, &backends.Options{Groups: []uint16{g}}); err != nil {
			t.Errorf("group %#04x: %v", g, err)
		}
	}
	for _, s := range a.CipherSuites {
		if slices.Contains(tls13Suites, s) {
			continue // only all three together; checked below
		}
		var cfg tls.Config
		if err := applyOptions(&cfg, &backends.Options{CipherSuites: []uint16{s}}); err != nil || !slices.Contains(cfg.CipherSuites, s) {
			t.Errorf("cipher suite %#04x: %v (suites %#04x)", s, err, cfg.CipherSuites)
		}
	}
	var cfg tls.Config
	if err := applyOptions(&cfg, &backends.Options{CipherSuites: tls13Suites, Versions: a.Versions}); err != nil {
		t.Errorf("TLS 1.3 suites: %v", err)
	}
}

// TestDefaults checks the probed defaults against what crypto/tls is known
// to send and against Supported.
func TestDefaults(t *testing.T) {
	b := Backend{}
	d, s := b.Defaults(), b.Supported()
	if !slices.Equal(d.Versions, []uint16{tls.VersionTLS13, tls.VersionTLS12}) {
		t.Errorf("default versions %#04x", d.Versions)
	}
	if d.Groups[0] != uint16(tls.X25519MLKEM768) || !slices.Contains(d.Groups, uint16(tls.X25519)) {
		t.Errorf("default groups %#04x", d.Groups)
	}
	for _, l := range [][2][]uint16{{d.Versions, s.Versions}, {d.CipherSuites, s.CipherSuites}, {d.Groups, s.Groups}} {
		for _, id := range l[0] {
			if !slices.Contains(l[1], id) {
				t.Errorf("default %#04x is not in Supported %#04x", id, l[1])
			}
		}
	}
	for _, id := range tls13Suites {
		if !slices.Contains(d.CipherSuites, id) {
			t.Errorf("default suites %#04x lack %#04x", d.CipherSuites, id)
		}
	}
	if slices.Contains(d.CipherSuites, tls.TLS_RSA_WITH_AES_128_GCM_SHA256) {
		t.Errorf("default suites %#04x include RSA key exchange, which crypto/tls does not offer by default", d.CipherSuites)
	}
}
