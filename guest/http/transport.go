//go:build wasip1

package wasihttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"

	wasinet "github.com/wasitls/wasitls/guest/net"
	wasitls "github.com/wasitls/wasitls/guest/tls"
)

// Transport is an http.RoundTripper over wasi:tls and wasi:sockets. The
// zero value is ready to use; a Transport is safe for concurrent use and
// should be reused, as it keeps idle connections.
type Transport struct {
	// Config is the TLS configuration of https connections; nil means
	// the defaults. Its NextProtos decides HTTP/2: nil offers h2 and
	// http/1.1; a list without "h2" means HTTP/1.1 only. ServerName is
	// taken from each request's host when empty.
	Config *wasitls.Config

	// IdleConnTimeout is how long a connection of either side is kept
	// idle in the pool before it is closed, as http.Transport's is:
	// zero means DefaultIdleConnTimeout, a negative value no limit (the
	// connection is kept until CloseIdleConnections). An idle connection
	// holds a socket and a TLS connection of the host, whose counts the
	// host caps. It is read once, on first use.
	IdleConnTimeout time.Duration

	once sync.Once
	h1   *http.Transport
	h2   *http2.Transport

	mu     sync.Mutex
	h1Only map[string]bool          // addresses whose server chose HTTP/1.1
	spare  map[string]*wasitls.Conn // HTTP/1.1 connections dialed by the HTTP/2 side
}

// DefaultIdleConnTimeout is the idle timeout of a Transport whose
// IdleConnTimeout is zero: http.DefaultTransport's.
const DefaultIdleConnTimeout = 90 * time.Second

// errHTTP11 is what the HTTP/2 side's dial returns when the server chose
// HTTP/1.1; RoundTrip then uses the HTTP/1.1 side.
var errHTTP11 = errors.New("wasihttp: the server chose HTTP/1.1")

func (t *Transport) init() {
	t.once.Do(func() {
		t.h1Only = map[string]bool{}
		t.spare = map[string]*wasitls.Conn{}
		idle := t.IdleConnTimeout
		switch {
		case idle == 0:
			idle = DefaultIdleConnTimeout
		case idle < 0:
			idle = 0 // the transports' "no limit"
		}
		t.h1 = &http.Transport{
			DialContext: (&wasinet.Dialer{}).DialContext,
			DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if c := t.takeSpare(addr); c != nil {
					return c, nil
				}
				return t.dial(ctx, network, addr, []string{"http/1.1"})
			},
			// A non-nil empty map turns net/http's own HTTP/2 off: it
			// could not run it over a wasi:tls connection anyway.
			TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
			ForceAttemptHTTP2: false,
			IdleConnTimeout:   idle,
		}
		t.h2 = &http2.Transport{
			IdleConnTimeout: idle,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				c, err := t.dial(ctx, network, addr, t.protos())
				if err != nil {
					return nil, err
				}
				if c.ConnectionState().NegotiatedProtocol != "h2" {
					t.putSpare(addr, c)
					return nil, errHTTP11
				}
				return c, nil
			},
		}
	})
}

// protos is the ALPN list of an HTTP/2 attempt.
func (t *Transport) protos() []string {
	if t.Config != nil && t.Config.NextProtos != nil {
		return t.Config.NextProtos
	}
	return []string{"h2", "http/1.1"}
}

func (t *Transport) dial(ctx context.Context, network, addr string, protos []string) (*wasitls.Conn, error) {
	var cfg wasitls.Config
	if t.Config != nil {
		cfg = *t.Config
	}
	cfg.NextProtos = protos
	return wasitls.DialContext(ctx, network, addr, &cfg)
}

func (t *Transport) putSpare(addr string, c *wasitls.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.h1Only[addr] = true
	if old := t.spare[addr]; old != nil {
		old.Close()
	}
	t.spare[addr] = c
}

func (t *Transport) takeSpare(addr string) *wasitls.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.spare[addr]
	delete(t.spare, addr)
	return c
}

// useH2 says whether an https request to addr tries HTTP/2 first.
func (t *Transport) useH2(addr string) bool {
	if !slices.Contains(t.protos(), "h2") {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.h1Only[addr]
}

// RoundTrip sends req over HTTP/2 or HTTP/1.1 and returns the response,
// with its TLS field set for https.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	switch req.URL.Scheme {
	case "http":
		return t.h1.RoundTrip(req)
	case "https":
	default:
		return nil, fmt.Errorf("wasihttp: unsupported protocol scheme %q", req.URL.Scheme)
	}
	// The connection's state is read when the transport hands it over:
	// the response does not name the connection that carried it, and
	// the transport may have closed it by the time the response is back
	// (an HTTP/1.1 response without a body and with "Connection: close").
	// On a reused connection this costs host calls but no parsing: the
	// connection keeps the chain it parsed (Conn.ConnectionState).
	var state *tls.ConnectionState
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if c, ok := info.Conn.(*wasitls.Conn); ok {
			st := c.ConnectionState().Standard()
			state = &st
		}
	}}
	traced := req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	addr := authority(req)

	if t.useH2(addr) {
		resp, err := t.h2.RoundTrip(traced)
		if !errors.Is(err, errHTTP11) {
			return withTLS(resp, state), err
		}
	}
	resp, err := t.h1.RoundTrip(traced)
	if c := t.takeSpare(addr); c != nil {
		// The HTTP/1.1 side reused an idle connection instead.
		c.Close()
	}
	return withTLS(resp, state), err
}

// CloseIdleConnections closes the idle connections of both sides.
func (t *Transport) CloseIdleConnections() {
	t.init()
	t.h1.CloseIdleConnections()
	t.h2.CloseIdleConnections()
	t.mu.Lock()
	defer t.mu.Unlock()
	for addr, c := range t.spare {
		c.Close()
		delete(t.spare, addr)
	}
}

// authority is the request's host:port, as the transports dial it.
func authority(req *http.Request) string {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "443"
		if req.URL.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(host, port)
}

func withTLS(resp *http.Response, state *tls.ConnectionState) *http.Response {
	if resp != nil && state != nil {
		resp.TLS = state
	}
	return resp
}
