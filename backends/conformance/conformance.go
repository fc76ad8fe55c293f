// Package conformance is the test suite every wasi:tls backend runs.
//
// # Model
//
// [Run] drives the backend under test through the behaviours the
// [backends] contract promises, in up to three pairings per case: the
// backend on both ends, the backend as client against Go's crypto/tls as
// server, and crypto/tls as client against the backend as server. A case
// runs only in the pairings where the side whose behaviour it checks is the
// backend. A case that needs a flight no crypto/tls peer sends scripts that
// flight instead (NoPostQuantumDowngrade: a ClientHello that supports the
// hybrid but shares only X25519). Every connection is loopback TCP; every
// handshake has a deadline;
// at the end Run checks that no goroutine outlived the suite.
//
// A backend that wraps another (its connections hold a [backends.Conn])
// has its connections checked to answer every optional interface of a
// Conn as the ones they hold do (WrapperForwardsOptionalInterfaces): a
// wrapper built on [backends.WrappedConn] does. One that holds a
// backends.Backend is checked to tell the transport's counters what the
// held backend tells them (WrapperKeepsTransportCounters).
//
// The suite sticks to TLS 1.3 behaviours. Features a backend may lack are
// declared in [Options]; the suite then checks that the backend refuses them
// honestly (with an error wrapping [backends.ErrNotSupported]).
//
// Received alerts are recognised by name in the error text, as crypto/tls
// reports them ("remote error: tls: bad certificate"), by the RFC 8446
// spelling ("bad_certificate"), or as a [*backends.SendAlertError] with the code.
//
// Certificates come from the internal testpki package: an ephemeral root, an
// intermediate, and leaves for each case.
//
// The goroutine check counts every goroutine of the process: do not call Run
// from a test that runs in parallel with others.
package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testnet"
)

// Options declares what the backend under test can do beyond the baseline.
// A backend that wraps another declares what the wrapped one does (a
// wrapper of circl-pq: PostHandshakeClientAuth and MLDSA, as circl-pq's
// own test), unless it takes it away.
type Options struct {
	// PostHandshakeClientAuth: Conn.RequestClientIdentity works (checked
	// with the backend on both ends). When false, the suite checks that it
	// fails with an error wrapping backends.ErrNotSupported.
	PostHandshakeClientAuth bool

	// Resumption: the client resumes the sessions it keeps in
	// ClientConfig.Sessions and the server those it sealed with
	// ServerConfig.TicketKeys (checked against itself and crypto/tls:
	// trust checked again, no session kept of a client that presented a
	// certificate, tickets bound to their identity and keys, none without
	// a client certificate resumed by a server that asks for one). When
	// false, the resumption cases are skipped.
	Resumption bool

	// MLDSA: ML-DSA-44/65/87 identities (ParseIdentity of PKCS#8 ML-DSA
	// keys) and certificate chains, pure and mixed with ECDSA, work
	// (checked with the backend on both ends). When false, the ML-DSA
	// cases are skipped.
	MLDSA bool
}

// Run runs the conformance suite against b. At most one Options may be
// given.
func Run(t *testing.T, b backends.Backend, opts ...Options) {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatal("conformance: Run takes at most one Options")
	}
	before := runtime.NumGoroutine()
	p := newPKI(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.caps != nil && !c.caps(o) {
				t.Skipf("conformance: %s: backend %s does not declare this capability", c.name, b.Name())
			}
			modes := c.modes
			if modes == nil {
				modes = allModes
			}
			for _, m := range modes {
				t.Run(m.String(), func(t *testing.T) {
					c.run(&env{t: t, b: b, pki: p, mode: m, opts: o})
				})
			}
		})
	}
	checkGoroutines(t, before)
}

// checkGoroutines fails t if goroutines started during the suite are still
// running after a grace period.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("conformance: %d goroutines leaked (%d before the suite, %d after)\n%s", n-before, before, n, buf)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mode is a pairing of implementations.
type mode int

const (
	bothBackend    mode = iota // the backend on both ends
	backendClient              // backend client, crypto/tls server
	backendServer              // crypto/tls client, backend server
	scriptedClient             // a scripted first flight, backend server
)

var (
	allModes        = []mode{bothBackend, backendClient, backendServer}
	clientModes     = []mode{bothBackend, backendClient}
	serverModes     = []mode{bothBackend, backendServer}
	bothBackendOnly = []mode{bothBackend}
)

func (m mode) String() string {
	switch m {
	case bothBackend:
		return "backend-backend"
	case backendClient:
		return "backend-client-vs-crypto-tls"
	case backendServer:
		return "crypto-tls-client-vs-backend"
	case scriptedClient:
		return "scripted-client-vs-backend"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// env is one case in one pairing.
type env struct {
	t    *testing.T
	b    backends.Backend
	pki  *pki
	mode mode
	opts Options
}

// pair is a connected client and server, after their handshakes.
type pair struct {
	client, server       backends.Conn
	clientRaw, serverRaw net.Conn
	clientErr, serverErr error
}

const handshakeTimeout = 10 * time.Second

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	c, s := testnet.TCPPair(t)
	return c, s
}

// newClient wraps raw as the client of the current pairing.
func (e *env) newClient(raw net.Conn, cc *backends.ClientConfig) backends.Conn {
	e.t.Helper()
	if e.mode == backendServer {
		return goClient(raw, cc)
	}
	c, err := e.b.Client(raw, cc)
	if err != nil {
		e.t.Fatalf("%s: Client: %v", e.b.Name(), err)
	}
	return c
}

// newServer wraps raw as the server of the current pairing.
func (e *env) newServer(raw net.Conn, sc *backends.ServerConfig) backends.Conn {
	e.t.Helper()
	if e.mode == backendClient {
		return goServer(raw, sc)
	}
	c, err := e.b.Server(raw, sc)
	if err != nil {
		e.t.Fatalf("%s: Server: %v", e.b.Name(), err)
	}
	return c
}

// connect runs both handshakes concurrently. When one side fails, the other
// gets a grace period to see the alert before both transports are closed.
func (e *env) connect(cc *backends.ClientConfig, sc *backends.ServerConfig) *pair {
	e.t.Helper()
	cRaw, sRaw := tcpPair(e.t)
	p := &pair{clientRaw: cRaw, serverRaw: sRaw}
	p.client = e.newClient(cRaw, cc)
	p.server = e.newServer(sRaw, sc)
	e.t.Cleanup(func() { p.client.Close(); p.server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	type res struct {
		client bool
		err    error
	}
	ch := make(chan res, 2)
	go func() { ch <- res{true, p.client.Handshake(ctx)} }()
	go func() { ch <- res{false, p.server.Handshake(ctx)} }()
	var grace <-chan time.Time
	for n := 0; n < 2; {
		select {
		case r := <-ch:
			n++
			if r.client {
				p.clientErr = r.err
			} else {
				p.serverErr = r.err
			}
			if r.err != nil && grace == nil {
				grace = time.After(2 * time.Second)
			}
		case <-grace:
			cRaw.Close()
			sRaw.Close()
			grace = nil
		}
	}
	return p
}

// mustConnect is connect that fails the test on a handshake error.
func (e *env) mustConnect(cc *backends.ClientConfig, sc *backends.ServerConfig) *pair {
	e.t.Helper()
	p := e.connect(cc, sc)
	if p.clientErr != nil || p.serverErr != nil {
		e.t.Fatalf("handshake failed: client: %v; server: %v", p.clientErr, p.serverErr)
	}
	return p
}

// checkedAlerts are the alerts the suite looks for; their names are
// crypto/tls's spellings ([backends.Alert.String]).
var checkedAlerts = []backends.Alert{
	backends.AlertHandshakeFailure,
	backends.AlertBadCertificate,
	backends.AlertUnknownCA,
	backends.AlertCertificateRequired,
	backends.AlertNoApplicationProtocol,
	backends.AlertUnrecognizedName,
	backends.AlertInternalError,
	backends.AlertUserCanceled,
}

// sawAlert reports whether err says the alert a was received.
func sawAlert(err error, a backends.Alert) bool {
	if err == nil {
		return false
	}
	var ae *backends.SendAlertError
	if errors.As(err, &ae) && ae.Alert == a {
		return true
	}
	name := a.String()
	msg := err.Error()
	return strings.Contains(msg, name) || strings.Contains(msg, strings.ReplaceAll(name, " ", "_"))
}

// sawAnyAlert reports whether err says some alert was received.
func sawAnyAlert(err error) bool {
	if err == nil {
		return false
	}
	var ae *backends.SendAlertError
	if errors.As(err, &ae) {
		return true
	}
	msg := err.Error()
	if strings.Contains(msg, "remote error") || strings.Contains(msg, "alert") {
		return true
	}
	for _, a := range checkedAlerts {
		name := a.String()
		if strings.Contains(msg, name) || strings.Contains(msg, strings.ReplaceAll(name, " ", "_")) {
			return true
		}
	}
	return false
}

// calls records hook calls, in order, for ordering checks.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// tls13 is the Options baseline of the suite.
func tls13() backends.Options {
	return backends.Options{Versions: []uint16{tls.VersionTLS13}}
}
