package tlshost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A serverSession is the host side of one server-connection and its
// server-handshake.
//
// States, in order (each transition at most once):
//
//	new --accept--> suspended --receive-client-hello/request-client-identity/finish--> running --> done
//	                    \______________________________abort_____________________________/--> aborted
//
// The server's settings (identities, ALPN, versions, cipher suites, groups,
// client certificate request) shape its answer to the ClientHello, so they
// can change until the ClientHello hook has returned: before the handshake
// started, and while it is suspended at the ClientHello.
type serverSession struct {
	backend backends.Backend
	ending  // the driver, the transport, the streams future, finish, abort and Close
	rules   // configure-* within the host's ceiling, step order

	helloFut    *future[*helloCopy]
	identityFut *future[*peerChain] // nil: the client sent no certificate

	// Guarded by d.mu.
	ticketKeys    func() []backends.TicketKey // the host's, nil when it issues no tickets
	receivedHello bool                        // receive-client-hello was called
	requested     bool                        // request-client-identity was called
	helloReleased bool                        // the ClientHello hook returned: settings are fixed
	helloName     string                      // the server name of the ClientHello, once it arrived
	cfg           backends.ServerConfig
	clientChain   *peerChain // validated client chain, in or after the handshake; its hold is the connection's
	postAuth      *future[*peerChain]
}

// newServerSession starts a session over transport; base is the host's
// configuration, whose lists are also the ceiling of the guest's.
func newServerSession(b backends.Backend, base backends.ServerConfig, transport net.Conn) *serverSession {
	s := &serverSession{
		backend:     b,
		ending:      newEnding(transport),
		helloFut:    newHelloFuture(),
		identityFut: newChainFuture(),
		cfg:         base,
		ticketKeys:  base.TicketKeys,
	}
	s.rules = newRules("server", "accept", b, &s.ending, &s.cfg.Options, s)
	s.d.owner = s
	return s
}

// Accept creates the handshake. It may be called at most once and performs
// no I/O.
func (s *serverSession) Accept() error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	switch {
	case s.closed:
		return errClosed
	case s.begun:
		return errors.New("tlshost: accept may be called at most once per connection")
	}
	s.begun = true
	return nil
}

// fixedLocked is the server's rule for rules.configurableLocked: the
// settings shape its answer to the ClientHello, so they are fixed once the
// ClientHello hook returned. d.mu must be held.
func (s *serverSession) fixedLocked(what string) error {
	if s.helloReleased {
		return fmt.Errorf("tlshost: %s: the handshake has already progressed past the client hello", what)
	}
	return nil
}

// ConfigureResumption turns resumption on or off for this connection:
// with it off the server resumes no session and issues no ticket.
func (s *serverSession) ConfigureResumption(on bool) error {
	const what = "configure-server-resumption"
	if on && s.ticketKeys == nil {
		return fmt.Errorf("tlshost: %s: %w", what, errNoResumption)
	}
	return s.configure(what, func() {
		s.cfg.TicketKeys = nil
		if on {
			s.cfg.TicketKeys = s.ticketKeys
		}
	})
}

// ConfigureIdentities sets the server certificates in preference order; the
// backend picks the best match for the ClientHello.
func (s *serverSession) ConfigureIdentities(ids []*backends.Identity) error {
	return s.configureCounted("configure-server-identities", settingIdentities, int64(len(ids))*identityRefBytes, func() { s.cfg.Identities = cloneSlice(ids) })
}

// resumeLocked moves the handshake on to step p, starting it if needed.
func (s *serverSession) resumeLocked(p step) {
	s.d.advanceLocked(p)
	if s.d.begunLocked() {
		return
	}
	cfg := s.cfg
	cfg.ClientHello = s.clientHello
	cfg.VerifyClient = s.verifyClient
	s.changed = false // cfg is what the backend starts with
	conn, err := s.open(s.backend, "Server", func() (backends.Conn, error) { return s.backend.Server(s.transport, &cfg) })
	if err != nil {
		s.d.neverRunLocked()
		s.failAll(backendErr(s.backend, err))
		return
	}
	s.conn = conn
	s.d.startLocked(s.backend, conn, blocksOnlyInTransport(conn, s.transport))
}

// ReceiveClientHello resumes the handshake until the ClientHello arrived and
// suspends it there; the guest may then reconfigure the server.
func (s *serverSession) ReceiveClientHello() (*future[*helloCopy], error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if err := s.stepCheckLocked("receive-client-hello", s.receivedHello, stepClientHello); err != nil {
		return nil, err
	}
	s.receivedHello = true
	s.resumeLocked(stepClientHello)
	return s.helloFut, nil
}

// RequestClientIdentity asks the client for a certificate in this
// handshake, and resumes the handshake until the client's answer was
// received and validated. The future resolves with the validated chain, or
// nil when the client sent none. It must be called before the handshake
// passed the ClientHello: the request is part of the server's answer to it.
func (s *serverSession) RequestClientIdentity() (*future[*peerChain], error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if err := s.stepCheckLocked("request-client-identity", s.requested, stepVerifyClient); err != nil {
		return nil, err
	}
	if s.helloReleased {
		return nil, errors.New("tlshost: request-client-identity: the handshake has already progressed past the client hello")
	}
	s.requested = true
	// Whether to insist is the guest's decision: it sees none and may
	// abort (see the .NET mapping of ClientCertificateRequired).
	s.cfg.ClientAuth = backends.RequestClientCert
	s.changed = true
	s.resumeLocked(stepVerifyClient)
	return s.identityFut, nil
}

// Finish runs the rest of the handshake; it consumes the handshake.
func (s *serverSession) Finish() *future[backends.Conn] {
	return s.finish(func() bool { return s.begun }, s.resumeLocked)
}

// Abort cancels the handshake; see clientSession.Abort.
func (s *serverSession) Abort() *wasiio.Signal { return s.abort(s.failAll) }

// DropHandshake is dropping the server-handshake unfinished: an abort.
func (s *serverSession) DropHandshake() { s.dropHandshake(s.failAll) }

// clientHello is the ClientHello hook, on the handshake goroutine. It
// returns the configuration as the guest left it when it let the handshake
// go on, or nil when the guest changed nothing since the backend's
// connection was made with it: the backend then keeps the one it has
// rather than building its configuration a second time (for stdtls a
// tls.Config with its hooks and lists).
//
// Of the ClientHello the session keeps the server name alone, and a copy
// for the guest only if it asked for it (receive-client-hello; it cannot
// ask once the handshake went past the hello without it). The client
// chooses the lists' lengths: 20,000 one-byte ALPN protocols, 40 KB of
// ClientHello, are some 320 KB of Go strings a copy. Before, every
// server connection kept two copies for its life, asked for or not: 16
// connections of such clients grew the host's heap by 10-12 MiB, against
// 0.3-0.4 MiB for clients offering one protocol.
func (s *serverSession) clientHello(ctx context.Context, hello *backends.ClientHello) (*backends.ServerConfig, error) {
	if err := checkClientServerName(hello.ServerName); err != nil {
		// The client's handshake fails (its backend's alert) as for
		// any refused hello; the guest's with this error.
		return nil, err
	}
	if m := s.guard.meter.Load(); m != nil {
		// What the backend holds parsed of the ClientHello counts
		// while the handshake runs (peercertbytes.go).
		if err := m.countHello(); err != nil {
			return nil, err
		}
	}
	s.d.mu.Lock()
	s.helloName = hello.ServerName
	asked := s.receivedHello
	s.d.mu.Unlock()
	var c *helloCopy
	if asked {
		// The copy counts as long as the guest holds it
		// (peerMeter.holdCopy).
		c = cloneHello(hello)
		hold, err := s.guard.meter.Load().holdCopy(c.heapBytes())
		if err != nil {
			return nil, err
		}
		c.hold = hold
	}
	s.d.enterHook()
	if asked {
		if !s.helloFut.resolve(c, nil) {
			c.put()
		}
	} else {
		s.helloFut.resolve(nil, errHelloNotAsked)
	}
	var cfg *backends.ServerConfig
	err := s.d.suspend(ctx, stepClientHello, func() {
		s.helloReleased = true
		if s.changed {
			c := s.cfg
			c.Identities = cloneSlice(s.cfg.Identities)
			cfg = &c
		}
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// verifyClient is the VerifyClient hook, on the handshake goroutine. After
// the handshake it is the post-handshake answer and does not suspend.
//
// The chain is shared with the backend, and so is what the handshake
// counted of it, rather than copied (peercertbytes.go).
func (s *serverSession) verifyClient(ctx context.Context, chain [][]byte) error {
	s.d.mu.Lock()
	post := s.streamsFut.Ready()
	if post {
		// RequestClientIdentityPost keeps the chain once it is accepted.
		s.d.mu.Unlock()
		return nil
	}
	m := s.guard.meter.Load()
	var pc *peerChain
	if len(chain) > 0 {
		s.clientChain = &peerChain{chain: chain}
		if m != nil {
			s.clientChain.hold = m.base
		}
		// The hook runs once the hello was released, after which
		// request-client-identity can no longer be called: a guest
		// that did not call it never sees the future.
		if s.requested {
			pc = m.share(chain)
		}
	} else {
		s.clientChain = nil
	}
	s.d.mu.Unlock()
	s.d.enterHook()
	if !s.identityFut.resolve(pc, nil) {
		pc.put()
	}
	return s.d.suspend(ctx, stepVerifyClient, nil)
}

func (s *serverSession) handshakeDone(err error) {
	if err != nil {
		s.failAll(err)
		// The server accepted no client: client-identity has none.
		s.d.mu.Lock()
		s.clientChain = nil
		s.d.mu.Unlock()
		return
	}
	s.helloFut.resolve(nil, errors.New("tlshost: the handshake completed without a ClientHello hook"))
	s.identityFut.resolve(nil, nil)
	s.d.mu.Lock()
	conn := s.conn
	s.d.mu.Unlock()
	s.streamsFut.resolve(conn, nil)
}

func (s *serverSession) failAll(err error) {
	s.helloFut.resolve(nil, err)
	s.identityFut.resolve(nil, err)
	s.streamsFut.resolve(nil, err)
}

// RequestClientIdentityPost performs post-handshake client authentication
// through the backend. At most one may be in flight; the handshake must
// have completed. Backends that cannot do it (crypto/tls cannot) resolve
// the future with their error, which says why.
func (s *serverSession) RequestClientIdentityPost() (*future[*peerChain], error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	conn, err, ok := s.streamsFut.peek()
	switch {
	case s.closed:
		return nil, errClosed
	case !ok:
		return nil, errors.New("tlshost: request-client-identity: the handshake has not completed; use server-handshake.request-client-identity during the handshake")
	case err != nil:
		return nil, inCall("request-client-identity: the handshake failed", err)
	case s.postAuth != nil && !s.postAuth.Ready():
		return nil, errors.New("tlshost: request-client-identity: a request is already in flight")
	}
	if conn == nil {
		conn = s.conn
	}
	f := newChainFuture()
	s.postAuth = f
	// Bounded by the handshake timeout; cancelled by Close.
	ctx, cancel := context.WithCancel(s.d.contextLocked())
	var timer *time.Timer
	if s.d.timeout > 0 {
		timeout := s.d.timeout
		timer = time.AfterFunc(timeout, func() {
			err := timeoutError("post-handshake client authentication", timeout)
			if !f.resolve(nil, err) {
				return
			}
			cancel()
			if s.report != nil {
				s.report("server-connection.request-client-identity", err)
			}
			// The client may still answer: the connection is in an
			// unknown state. Close it, which wakes every read and write
			// the guest waits on.
			s.release()
		})
	}
	// At most one request is in flight: the previous one, if any, is over.
	s.setOnCloseLocked(func() {
		cancel()
		f.resolve(nil, errClosed)
	})
	// What the client sends until its answer is in, but for application
	// data, counts against the guest's bound on its peers' chains
	// (peercertbytes.go).
	meter := s.guard.meter.Load()
	if meter != nil {
		var appRead func() int64
		if ac, ok := conn.(backends.ApplicationDataCounter); ok {
			appRead = ac.ApplicationDataRead
		}
		meter.startAuth(appRead)
	}
	go func() {
		defer cancel()
		chain, err := conn.RequestClientIdentity(ctx)
		if timer != nil {
			timer.Stop()
		}
		if len(chain) == 0 {
			chain = nil
		}
		// The answer's chain is shared with the backend, with what the
		// authentication counted, rather than copied.
		pc := &peerChain{chain: chain}
		if meter != nil {
			var merr error
			if pc, merr = meter.endAuth(err == nil, chain); merr != nil {
				// Reads were interrupted mid-answer: the connection is
				// in an unknown state, and what it holds goes back.
				if f.resolve(nil, merr) && s.report != nil {
					s.report("server-connection.request-client-identity", merr)
				}
				s.release()
				return
			}
		}
		if err != nil {
			// Kept as a handshake's error is (detachErr): it may quote
			// the client's certificate.
			f.resolve(nil, detachErr(backendErr(s.backend, err))) // the future adds what failed
			return
		}
		s.d.mu.Lock()
		if chain != nil {
			s.clientChain = &peerChain{chain: chain, hold: pc.hold}
		} else {
			s.clientChain = nil
		}
		s.d.mu.Unlock()
		if chain == nil {
			pc.put()
			pc = nil
		}
		if !f.resolve(pc, nil) {
			pc.put()
		}
	}()
	return f, nil
}

// ServerName is the name the client sent (SNI), if any.
func (s *serverSession) ServerName() (string, bool) {
	s.d.mu.Lock()
	name, conn := s.helloName, s.conn
	s.d.mu.Unlock()
	if name != "" {
		return name, true
	}
	if conn != nil {
		// Checked as the hello's name is (clientHello), for a
		// backend that completed the handshake without the hook.
		if n := conn.State().ServerName; n != "" && checkClientServerName(n) == nil {
			return n, true
		}
	}
	return "", false
}

// ClientChain is the client's validated chain, if it sent one, and nil
// once a panic of the backend broke the connection (see ending.State).
func (s *serverSession) ClientChain() *peerChain {
	if s.broken.Load() {
		return nil
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.clientChain == nil {
		return nil
	}
	return &peerChain{chain: s.clientChain.chain, hold: s.clientChain.hold.acquire()}
}

// maxClientServerName is the longest server name (SNI) a server takes
// from a client: a host name, as RFC 6066, Section 3 has it, is a DNS
// name's 253 bytes; BoringSSL and OpenSSL refuse more than 255
// (TLSEXT_MAXLEN_host_name), and so does the host.
const maxClientServerName = 255

// checkClientServerName refuses a client's server name (SNI) that is no
// host name the guest can be handed: one that is not UTF-8 (server-name
// returns a WIT string, which is UTF-8: before, lowering the client's
// bytes trapped the guest, so that one ClientHello stopped a guest server
// that asked for the name), one holding a NUL byte (a C guest reads the
// name up to it, where the host chose the identity by all of it), and one
// longer than maxClientServerName. The extension holds up to 65,535
// bytes, which the backend and the host kept for the connection's life,
// asked for or not: before, an idle connection whose client named 60,000
// bytes held 83 (circl-pq) to 185 (stdtls) KiB of the host's heap, against
// 15 to 25 KiB. RFC 6066 asks for ASCII; a UTF-8 name is left to the
// guest to judge.
func checkClientServerName(name string) error {
	switch {
	case len(name) > maxClientServerName:
		return fmt.Errorf("tlshost: the client's server name (SNI) is %d bytes long: a host name takes at most %d", len(name), maxClientServerName)
	case !utf8.ValidString(name):
		return errServerNameNotUTF8
	case strings.IndexByte(name, 0) >= 0:
		return errors.New("tlshost: the client's server name (SNI) holds a NUL byte")
	}
	return nil
}

// errServerNameNotUTF8 fails a handshake whose client sent a server name
// (SNI) that is not UTF-8.
var errServerNameNotUTF8 = errors.New("tlshost: the client's server name (SNI) is not UTF-8")

// errHelloNotAsked resolves the ClientHello future of a handshake whose
// guest did not call receive-client-hello, and no longer can.
var errHelloNotAsked = errors.New("tlshost: receive-client-hello was not called")

// A helloCopy is the ClientHello as the host keeps it for the guest, its
// ALPN protocols packed (see packedList), and its share of the count of
// the guest's peers' bytes (peerMeter.holdCopy): the future holds it
// until the guest takes it (a client-hello) or drops the future, then
// the client-hello until the guest drops it.
type helloCopy struct {
	ServerName       string
	alpn             packedList
	CipherSuites     []uint16
	Versions         []uint16
	Groups           []uint16
	SignatureSchemes []uint16
	hold             *peerHold
}

// newHelloFuture is a future of a ClientHello's copy, whose count goes
// back if the guest drops the future without taking it.
func newHelloFuture() *future[*helloCopy] {
	f := newFuture[*helloCopy]()
	f.free = (*helloCopy).put
	return f
}

// heapBytes is what the copy holds on the heap.
func (h *helloCopy) heapBytes() int64 {
	return int64(unsafe.Sizeof(*h)) + int64(len(h.ServerName)+cap(h.alpn)) +
		2*int64(cap(h.CipherSuites)+cap(h.Versions)+cap(h.Groups)+cap(h.SignatureSchemes))
}

// put lets go of the copy's count.
func (h *helloCopy) put() {
	if h != nil {
		h.hold.put()
	}
}

func cloneHello(h *backends.ClientHello) *helloCopy {
	return &helloCopy{
		ServerName:       h.ServerName,
		alpn:             pack(h.ALPN),
		CipherSuites:     cloneSlice(h.CipherSuites),
		Versions:         cloneSlice(h.Versions),
		Groups:           cloneSlice(h.Groups),
		SignatureSchemes: cloneSlice(h.SignatureSchemes),
	}
}
