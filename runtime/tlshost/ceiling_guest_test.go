package tlshost_test

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// The host's TLS policy is a ceiling: a wasm guest drives every configure
// function of wasitls:tls/extensions, narrowing and trying to widen, on
// both backends, against a Go peer on loopback that reports what was sent
// and negotiated.

const (
	x25519    = 0x001d
	p256      = 0x0017
	p384      = 0x0018
	hybrid    = 0x11ec // X25519MLKEM768
	ecdsaA128 = 0xc02b // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	rsaA128   = 0xc02f // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	rsaA256   = 0xc030 // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
)

// negotiated is the guest's last line.
type negotiated struct{ version, suite, group uint16 }

func parseNegotiated(t *testing.T, out string) (negotiated, bool) {
	t.Helper()
	i := strings.LastIndex(out, "negotiated ")
	if i < 0 {
		return negotiated{}, false
	}
	var n negotiated
	if _, err := fmt.Sscanf(out[i:], "negotiated version=0x%04x suite=0x%04x group=0x%04x", &n.version, &n.suite, &n.group); err != nil {
		t.Fatalf("guest output: %v\n%s", err, out)
	}
	return n, true
}

// perBackend picks a value by backend name.
func perBackend[T any](backend string, stdtls, circlpq T) T {
	if backend == "stdtls" {
		return stdtls
	}
	return circlpq
}

func TestGuestClientConfigureCeiling(t *testing.T) {
	p := newGuestPKI(t)
	type testCase struct {
		name   string
		host   func(backend string) tlshost.Config
		peer   func(*tls.Config)
		args   func(backend string) []string
		want   []string // guest output
		failed bool     // the handshake must fail
		check  func(t *testing.T, backend, out string, n negotiated, res peerResult)
	}
	cases := []testCase{{
		// An embedder who mandates post-quantum key exchange is not
		// downgraded by the guest.
		name: "PQOnlyHostRefusesX25519",
		host: func(string) tlshost.Config { return tlshost.Config{Groups: []uint16{hybrid}} },
		args: func(string) []string { return []string{"groups=0x001d"} },
		want: []string{"configure-client-groups: error: tlshost: configure-client-groups: the host allows none of the groups asked for: " +
			"asked for X25519 (0x001d); the host allows X25519MLKEM768 (0x11ec)"},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			if n.group != hybrid || res.state.CurveID != tls.X25519MLKEM768 {
				t.Errorf("negotiated %#04x (peer %v); want X25519MLKEM768", n.group, res.state.CurveID)
			}
			if !slices.Equal(res.hello.groups, []uint16{hybrid}) {
				t.Errorf("ClientHello groups %#04x; want the host's only", res.hello.groups)
			}
		},
	}, {
		name: "GroupsNarrowedInGuestOrder",
		host: func(string) tlshost.Config { return tlshost.Config{Groups: []uint16{hybrid, x25519, p256}} },
		args: func(string) []string { return []string{"groups=0x0017,0x0018,0x11ec", "shares=2"} },
		want: []string{"configure-client-groups: ok"},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			// P-384 is not the host's; its share goes with it.
			wantGroups := perBackend(backend, []uint16{hybrid, p256}, []uint16{p256, hybrid})
			wantShares := perBackend(backend, []uint16{hybrid}, []uint16{p256})
			if !slices.Equal(res.hello.groups, wantGroups) || !slices.Equal(res.hello.keyShares, wantShares) {
				t.Errorf("ClientHello groups %#04x, key shares %#04x; want %#04x, %#04x", res.hello.groups, res.hello.keyShares, wantGroups, wantShares)
			}
			if n.group != hybrid || res.state.CurveID != tls.X25519MLKEM768 {
				t.Errorf("negotiated %#04x (peer %v); want X25519MLKEM768", n.group, res.state.CurveID)
			}
		},
	}, {
		// Without host groups the ceiling is the backend's set. stdtls
		// keeps crypto/tls's order and key shares (documented).
		name: "GroupsOrderAndKeyShares",
		host: func(string) tlshost.Config { return tlshost.Config{} },
		peer: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256} },
		args: func(string) []string { return []string{"groups=0x001d,0x0017,0x11ec", "shares=2"} },
		want: []string{"configure-client-groups: ok"},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			wantGroups := perBackend(backend, []uint16{hybrid, x25519, p256}, []uint16{x25519, p256, hybrid})
			wantShares := perBackend(backend, []uint16{hybrid, x25519}, []uint16{x25519, p256})
			if !slices.Equal(res.hello.groups, wantGroups) || !slices.Equal(res.hello.keyShares, wantShares) {
				t.Errorf("ClientHello groups %#04x, key shares %#04x; want %#04x, %#04x", res.hello.groups, res.hello.keyShares, wantGroups, wantShares)
			}
			if n.group != p256 || res.state.CurveID != tls.CurveP256 {
				t.Errorf("negotiated %#04x (peer %v); want P-256", n.group, res.state.CurveID)
			}
		},
	}, {
		name:   "VersionsCeiling",
		host:   func(string) tlshost.Config { return tlshost.Config{Versions: []uint16{0x0304}} },
		peer:   func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
		args:   func(string) []string { return []string{"versions=0x0303"} },
		want:   []string{"configure-client-protocol-versions: error: tlshost: configure-client-protocol-versions: the host allows none of the protocol versions asked for: asked for TLS 1.2 (0x0303); the host allows TLS 1.3 (0x0304)"},
		failed: true,
	}, {
		// A list naming a code point twice is refused, not folded; the
		// guest goes on with the host's settings.
		name: "Repeats",
		host: func(string) tlshost.Config { return tlshost.Config{} },
		args: func(string) []string {
			return []string{"versions=0x0304,0x0304", "suites=0x1301,0x1303,0x1301", "groups=0x001d,0x11ec,0x001d", "shares=1"}
		},
		want: []string{
			"configure-client-protocol-versions: error: tlshost: configure-client-protocol-versions: duplicate protocol version TLS 1.3 (0x0304) in the list, at 0 and 1: each may be named once",
			"configure-client-cipher-suites: error: tlshost: configure-client-cipher-suites: duplicate cipher suite TLS_AES_128_GCM_SHA256 (0x1301) in the list, at 0 and 2: each may be named once",
			"configure-client-groups: error: tlshost: configure-client-groups: duplicate group X25519 (0x001d) in the list, at 0 and 2: each may be named once",
		},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			if n.version != 0x0304 || n.group != hybrid || slices.Contains(res.hello.groups[1:], res.hello.groups[0]) {
				t.Errorf("negotiated %+v, ClientHello groups %#04x; want the host's defaults", n, res.hello.groups)
			}
		},
	}, {
		name: "VersionsNarrowed",
		host: func(string) tlshost.Config { return tlshost.Config{Versions: []uint16{0x0304}} },
		args: func(string) []string { return []string{"versions=0x0303,0x0304"} },
		want: []string{"configure-client-protocol-versions: ok"},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			if !slices.Equal(res.hello.versions, []uint16{0x0304}) || n.version != 0x0304 {
				t.Errorf("ClientHello versions %#04x, negotiated %#04x; want TLS 1.3 only", res.hello.versions, n.version)
			}
		},
	}, {
		name: "SuitesCeiling",
		host: func(b string) tlshost.Config {
			return tlshost.Config{CipherSuites: perBackend(b, []uint16{0x1301, 0x1302, 0x1303, ecdsaA128}, []uint16{0x1302, 0x1303})}
		},
		args: func(b string) []string { return []string{perBackend(b, "suites=0xc02f", "suites=0x1301")} },
		want: []string{"configure-client-cipher-suites: error: tlshost: configure-client-cipher-suites: the host allows none of the cipher suites asked for: asked for "},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			want := perBackend(backend, "asked for TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xc02f); the host allows TLS_AES_128_GCM_SHA256 (0x1301), TLS_AES_256_GCM_SHA384 (0x1302), TLS_CHACHA20_POLY1305_SHA256 (0x1303), TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xc02b)",
				"asked for TLS_AES_128_GCM_SHA256 (0x1301); the host allows TLS_AES_256_GCM_SHA384 (0x1302), TLS_CHACHA20_POLY1305_SHA256 (0x1303)")
			mustContain(t, out, want)
			if backend == "circl-pq" && n.suite == 0x1301 {
				t.Errorf("negotiated the suite the host does not allow")
			}
		},
	}, {
		name: "SuitesNarrowed",
		host: func(b string) tlshost.Config {
			return tlshost.Config{CipherSuites: perBackend(b, []uint16{0x1301, 0x1302, 0x1303, ecdsaA128}, []uint16{0x1302, 0x1303})}
		},
		args: func(b string) []string {
			return []string{perBackend(b, "suites=0xc02f,0xc02b", "suites=0x1301,0x1303,0x1302")}
		},
		want: []string{"configure-client-cipher-suites: ok"},
		check: func(t *testing.T, backend, out string, n negotiated, res peerResult) {
			// stdtls: only a TLS 1.2 suite is left, so no TLS 1.3.
			want := perBackend(backend, []uint16{ecdsaA128}, []uint16{0x1303, 0x1302})
			if !slices.Equal(res.hello.cipherSuites, want) {
				t.Errorf("ClientHello cipher suites %#04x; want %#04x", res.hello.cipherSuites, want)
			}
			if !slices.Contains(want, n.suite) || uint16(res.state.CipherSuite) != n.suite {
				t.Errorf("negotiated %#04x (peer %#04x); want one of %#04x", n.suite, res.state.CipherSuite, want)
			}
		},
	}}
	eachBackend(t, func(t *testing.T, backend string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cfg := &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
				if c.peer != nil {
					c.peer(cfg)
				}
				port, results := goServerPeer(t, cfg)
				host := c.host(backend)
				host.BackendName = backend
				out, err := startGuestWith(t, host, p, "./testdata/configure", nil,
					append([]string{"client", "localhost", port}, c.args(backend)...)...).wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				mustContain(t, out, c.want...)
				var res peerResult
				select {
				case res = <-results:
				case <-time.After(10 * time.Second):
					t.Fatalf("the peer saw no connection\n%s", out)
				}
				n, ok := parseNegotiated(t, out)
				if c.failed {
					if ok || res.err == nil {
						t.Fatalf("the handshake succeeded (%+v); want it to fail\n%s", n, out)
					}
					mustContain(t, out, "handshake failed: ")
					return
				}
				if !ok || res.err != nil {
					t.Fatalf("handshake: peer %v\n%s", res.err, out)
				}
				if res.hello == nil {
					t.Fatal("the peer could not parse the ClientHello")
				}
				if c.check != nil {
					c.check(t, backend, out, n, res)
				}
			})
		}
	})
}

func TestGuestServerConfigureCeiling(t *testing.T) {
	p := newGuestPKI(t)
	type testCase struct {
		name   string
		host   func(backend string) tlshost.Config
		peer   func(*tls.Config) // the Go client
		args   func(backend string) []string
		want   func(backend string) []string // guest output
		failed bool                          // the handshake must fail
		check  func(t *testing.T, backend string, n negotiated, st tls.ConnectionState)
	}
	fixed := func(s ...string) func(string) []string { return func(string) []string { return s } }
	cases := []testCase{{
		name: "PQOnlyHostRefusesX25519",
		host: func(string) tlshost.Config { return tlshost.Config{Groups: []uint16{hybrid}} },
		peer: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} },
		args: fixed("groups=0x001d"),
		want: fixed("configure-server-groups: error: tlshost: configure-server-groups: the host allows none of the groups asked for: " +
			"asked for X25519 (0x001d); the host allows X25519MLKEM768 (0x11ec)"),
		failed: true,
	}, {
		// Narrowed after the ClientHello arrived, below the host's
		// default, which would pick the hybrid.
		name: "GroupsNarrowedAtHello",
		host: func(string) tlshost.Config { return tlshost.Config{Groups: []uint16{hybrid, x25519}} },
		args: fixed("at-hello", "groups=0x0017,0x001d"),
		want: fixed("client hello received", "configure-server-groups: ok"),
		check: func(t *testing.T, backend string, n negotiated, st tls.ConnectionState) {
			if n.group != x25519 || st.CurveID != tls.X25519 {
				t.Errorf("negotiated %#04x (peer %v); want X25519", n.group, st.CurveID)
			}
		},
	}, {
		name:   "VersionsCeiling",
		host:   func(string) tlshost.Config { return tlshost.Config{Versions: []uint16{0x0304}} },
		peer:   func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
		args:   fixed("versions=0x0303"),
		want:   fixed("configure-server-protocol-versions: error: tlshost: configure-server-protocol-versions: the host allows none of the protocol versions asked for: asked for TLS 1.2 (0x0303); the host allows TLS 1.3 (0x0304)"),
		failed: true,
	}, {
		// Narrowing to what the host and the backend allow works: TLS 1.3
		// only, so a TLS 1.2 client is refused (stdtls would take it).
		name:   "VersionsNarrowed",
		host:   func(string) tlshost.Config { return tlshost.Config{} },
		peer:   func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
		args:   fixed("versions=0x0304"),
		want:   fixed("configure-server-protocol-versions: ok"),
		failed: true,
	}, {
		name: "SuitesCeiling",
		host: func(b string) tlshost.Config {
			return tlshost.Config{CipherSuites: perBackend(b, []uint16{0x1301, 0x1302, 0x1303, ecdsaA128}, []uint16{0x1302, 0x1303})}
		},
		args: func(b string) []string { return []string{perBackend(b, "suites=0xc030", "suites=0x1301")} },
		want: func(b string) []string {
			return []string{"configure-server-cipher-suites: error: tlshost: configure-server-cipher-suites: the host allows none of the cipher suites asked for: " +
				perBackend(b, "asked for TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xc030); the host allows TLS_AES_128_GCM_SHA256 (0x1301), TLS_AES_256_GCM_SHA384 (0x1302), TLS_CHACHA20_POLY1305_SHA256 (0x1303), TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xc02b)",
					"asked for TLS_AES_128_GCM_SHA256 (0x1301); the host allows TLS_AES_256_GCM_SHA384 (0x1302), TLS_CHACHA20_POLY1305_SHA256 (0x1303)")}
		},
		peer: func(c *tls.Config) { c.CipherSuites = []uint16{rsaA256}; c.MaxVersion = tls.VersionTLS12 },
		// stdtls: the Go client offers only the refused suite (TLS 1.2);
		// circl-pq: TLS 1.2 only, so no TLS 1.3 suite either.
		failed: true,
	}, {
		name: "SuitesNarrowed",
		host: func(b string) tlshost.Config {
			return tlshost.Config{CipherSuites: perBackend(b, []uint16{0x1301, 0x1302, 0x1303, ecdsaA128}, []uint16{0x1302, 0x1303})}
		},
		args: func(b string) []string {
			return []string{perBackend(b, "suites=0xc030,0xc02b", "suites=0x1301,0x1303")}
		},
		want: fixed("configure-server-cipher-suites: ok"),
		check: func(t *testing.T, backend string, n negotiated, st tls.ConnectionState) {
			want := perBackend[uint16](backend, ecdsaA128, 0x1303)
			if n.suite != want || st.CipherSuite != want {
				t.Errorf("negotiated %#04x (peer %#04x); want %#04x", n.suite, st.CipherSuite, want)
			}
		},
	}}
	eachBackend(t, func(t *testing.T, backend string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				host := c.host(backend)
				host.BackendName = backend
				g := startGuestWith(t, host, p, "./testdata/configure", nil,
					append([]string{"server", "/certs/localhost.key", "/certs/localhost.pem"}, c.args(backend)...)...)
				port := g.port(t)
				cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"}
				if c.peer != nil {
					c.peer(cfg)
				}
				conn, dialErr := tls.Dial("tcp4", "127.0.0.1:"+port, cfg)
				var st tls.ConnectionState
				if dialErr == nil {
					st = conn.ConnectionState()
					conn.Write([]byte("x"))
					conn.Close()
				}
				out, err := g.wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				mustContain(t, out, c.want(backend)...)
				n, ok := parseNegotiated(t, out)
				if c.failed {
					if ok || dialErr == nil {
						t.Fatalf("the handshake succeeded (%+v); want it to fail\n%s", n, out)
					}
					mustContain(t, out, "handshake failed: ")
					return
				}
				if !ok || dialErr != nil {
					t.Fatalf("handshake: peer %v\n%s", dialErr, out)
				}
				if c.check != nil {
					c.check(t, backend, n, st)
				}
			})
		}
	})
}
