package stdtls_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
)

// TestLongALPNListsAsCryptoTLS: with lists long enough that stdtls picks
// the ALPN ID itself (more than 4,096 pairs), a stdtls server negotiates
// what a crypto/tls server given the same lists does, TLS 1.2 and 1.3,
// with and without a ClientHello hook's config: the server's preferred
// ID the client offers, no ALPN for an http/1.1 client of an h2 server,
// and a failed handshake when the lists share nothing.
func TestLongALPNListsAsCryptoTLS(t *testing.T) {
	f := newFixture(t)
	filler := func(prefix string, extra ...string) []string {
		out := make([]string, 0, 80)
		for i := range 70 {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return append(out, extra...)
	}
	cases := []struct {
		name           string
		server, client []string
	}{
		{"server preference", filler("s", "b", "a"), filler("c", "a", "b")},
		{"h2 for http/1.1", filler("s", "h2"), filler("c", "http/1.1")},
		{"h2 offered too", filler("s", "x", "h2"), filler("c", "http/1.1", "h2")},
		{"nothing in common", filler("s"), filler("c")},
	}
	type result struct {
		alpn   string
		failed bool
	}
	run := func(serve func(net.Conn) func(context.Context) error, client []string, version uint16) result {
		cRaw, sRaw := net.Pipe()
		defer cRaw.Close()
		defer sRaw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s := serve(sRaw)
		errc := make(chan error, 1)
		go func() {
			err := s(ctx)
			if err != nil {
				sRaw.Close()
			}
			errc <- err
		}()
		c := tls.Client(cRaw, &tls.Config{ServerName: "a.test", RootCAs: f.ca.Pool(), NextProtos: client, MinVersion: version, MaxVersion: version})
		cErr := c.HandshakeContext(ctx)
		if cErr != nil {
			cRaw.Close()
		}
		sErr := <-errc
		return result{c.ConnectionState().NegotiatedProtocol, cErr != nil || sErr != nil}
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, hook := range []bool{false, true} {
			for _, tc := range cases {
				want := run(func(raw net.Conn) func(context.Context) error {
					return tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{f.server.TLSCertificate()}, NextProtos: tc.server}).HandshakeContext
				}, tc.client, version)
				got := run(func(raw net.Conn) func(context.Context) error {
					sc := &backends.ServerConfig{
						Options:    backends.Options{ALPN: tc.server},
						Identities: []*backends.Identity{f.server.Identity()},
					}
					if hook {
						// The hook's config has the lists; the original none.
						repl := *sc
						sc.Options.ALPN = []string{"unused"}
						sc.ClientHello = func(context.Context, *backends.ClientHello) (*backends.ServerConfig, error) { return &repl, nil }
					}
					s, err := stdtls.Backend{}.Server(raw, sc)
					if err != nil {
						t.Fatal(err)
					}
					return s.Handshake
				}, tc.client, version)
				if want.alpn == "" && !want.failed && tc.name == "server preference" {
					t.Fatalf("%s: crypto/tls negotiated nothing", tc.name)
				}
				if got != want {
					t.Errorf("%s, version %#x, hook %v: stdtls negotiated %+v, crypto/tls %+v", tc.name, version, hook, got, want)
				}
			}
		}
	}
}
