package tlshost_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
)

// TestGuestHTTPSGet runs examples/https-get (net/http in the guest, over
// guest/http's Transport) against a local Go HTTPS server: HTTP/2 when the
// server offers it, HTTP/1.1 when it does not, with resp.TLS filled from
// the wasi:tls connection either way.
func TestGuestHTTPSGet(t *testing.T) {
	p := newGuestPKI(t)
	for _, tc := range []struct {
		name  string
		cfg   func(*tls.Config)
		proto string
		alpn  string
	}{
		{"h2", nil, "HTTP/2.0 200 OK", "alpn: h2"},
		{"http1.1", func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }, "HTTP/1.1 200 OK", "alpn: http/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, backend string) {
				var handshakes atomic.Int32
				port, _ := goHTTPS(t, p, func(c *tls.Config) {
					if tc.cfg != nil {
						tc.cfg(c)
					}
					c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
						handshakes.Add(1)
						return nil, nil
					}
				})
				out, err := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/https-get", nil,
					"https://localhost:"+port+"/").wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				mustContain(t, out, tc.proto, tc.alpn, "tls: TLS 1.3 (0x0304), TLS_", "group: X25519MLKEM768 (0x11ec)",
					"body: hello anonymous over "+tc.proto[:8])
				// A connection the server took as HTTP/1.1 is handed over,
				// not dialed again.
				if n := handshakes.Load(); n != 1 {
					t.Errorf("the server saw %d handshakes; want 1", n)
				}
			})
		})
	}
}

// TestGuestHTTPSGetConnectionClose runs examples/https-get against an
// HTTP/1.1 server that answers with an empty body and "Connection: close":
// net/http's transport closes such a connection as soon as it has read
// the response, before RoundTrip returns it, and resp.TLS must still
// describe the connection (crypto/tls's ConnectionState works after
// Close). Before, guest/http read the state after the Close had released
// the wasi:tls connection: resp.TLS was all zeros.
func TestGuestHTTPSGetConnectionClose(t *testing.T) {
	p := newGuestPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}, NextProtos: []string{"http/1.1"}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	out, err := startGuest(t, "stdtls", p, "github.com/wasitls/wasitls/examples/https-get", nil,
		"https://localhost:"+port+"/").wait(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustContain(t, out, "HTTP/1.1 204 No Content", "alpn: http/1.1", "tls: TLS 1.3 (0x0304), TLS_", "server: ")
}

// TestGuestHTTPIdleTimeout: a guest/http Transport closes a pooled
// connection once it has been idle for IdleConnTimeout, over HTTP/2 and
// over HTTP/1.1, as net/http's does, instead of holding its socket and
// TLS connection until the guest ends. The server keeps idle connections
// for ever, so the close it sees comes from the guest; the guest waits on
// a control connection meanwhile, which the test answers once the server
// saw the close (or after 20s: the timeout is 200ms).
func TestGuestHTTPIdleTimeout(t *testing.T) {
	p := newGuestPKI(t)
	for _, tc := range []struct{ name, proto string }{{"h2", "HTTP/2.0"}, {"http1.1", "HTTP/1.1"}} {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan struct{})
			var once sync.Once
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello\n")
			}))
			srv.EnableHTTP2 = tc.name == "h2"
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					once.Do(func() { close(closed) })
				}
			}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			ctrl := testnet.Serve(t, func(c net.Conn) {
				defer c.Close()
				select {
				case <-closed:
					io.WriteString(c, "server saw the idle connection closed\n")
				case <-time.After(20 * time.Second):
					io.WriteString(c, "server still holds the idle connection\n")
				}
			})
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			out, err := startGuest(t, "stdtls", p, "./testdata/httpidle", nil,
				"https://localhost:"+port+"/", ctrl.String(), "200ms").wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if want := tc.proto + "\nctrl server saw the idle connection closed\n"; out != want {
				t.Fatalf("guest printed %q, want %q", out, want)
			}
		})
	}
}
