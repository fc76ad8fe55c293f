package tlshost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"unsafe"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A clientSession is the host side of one client-connection and its
// client-handshake.
//
// States, in order (each transition at most once):
//
//	new --connect--> suspended --verify/receive/finish--> running --Handshake returns--> done
//	                     \______________________abort_______________________/--> aborted
//
// While suspended nothing was sent: configure-* calls are accepted. Once
// running, the handshake goroutine runs up to the step the guest asked for
// (see step) and suspends in the backend's hook there; the guest's next call
// releases it. The futures hold plain Go values; the guest's get turns them
// into resources.
type clientSession struct {
	backend backends.Backend
	ending  // the driver, the transport, the streams future, finish, abort and Close
	rules   // configure-* within the host's ceiling, step order

	verifyFut  *future[*peerChain]             // nil: no certificate seen
	requestFut *future[*clientIdentityRequest] // nil: no request

	// Guarded by d.mu.
	sessions   backends.SessionCache // the guest's, nil when the host keeps none
	verified   bool                  // verify-server-identity was called
	received   bool                  // receive-client-identity-request was called
	serverName string
	cfg        backends.ClientConfig // given to the backend when the handshake starts
	responded  []*backends.Identity
}

// newClientSession starts a session over transport; base is the host's
// configuration, whose lists are also the ceiling of the guest's.
func newClientSession(b backends.Backend, base backends.ClientConfig, transport net.Conn) *clientSession {
	s := &clientSession{
		backend:    b,
		ending:     newEnding(transport),
		verifyFut:  newChainFuture(),
		requestFut: newRequestFuture(),
		cfg:        base,
		sessions:   base.Sessions,
	}
	s.rules = newRules("client", "connect", b, &s.ending, &s.cfg.Options, s)
	s.d.owner = s
	return s
}

// maxServerName is the longest server name connect takes: a DNS name's
// 253 characters and a trailing dot (RFC 1035, Section 2.3.4), longer than
// any IP address literal.
const maxServerName = 254

// Connect creates the handshake. It may be called at most once and performs
// no I/O.
func (s *clientSession) Connect(serverName string) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	switch {
	case s.closed:
		return errClosed
	case s.begun:
		return errors.New("tlshost: connect may be called at most once per connection")
	case serverName == "":
		return errors.New("tlshost: connect: empty server name")
	case len(serverName) > maxServerName:
		// Kept for the handshake's life: without this bound a guest's
		// pending handshakes held names as long as its memory.
		return fmt.Errorf("tlshost: connect: a server name of %d bytes, more than a DNS name's %d", len(serverName), maxServerName)
	}
	if err := s.settings.set(settingServerName, int64(len(serverName))); err != nil {
		return err
	}
	s.begun = true
	s.serverName = serverName
	s.cfg.ServerName = serverName
	return nil
}

// ConfigureResumption turns resumption on or off for this connection:
// with it off the client offers no session and keeps none.
func (s *clientSession) ConfigureResumption(on bool) error {
	const what = "configure-client-resumption"
	if on && s.sessions == nil {
		return fmt.Errorf("tlshost: %s: %w", what, errNoResumption)
	}
	return s.configure(what, func() {
		s.cfg.Sessions = nil
		if on {
			s.cfg.Sessions = s.sessions
		}
	})
}

// fixedLocked is the client's rule for rules.configurableLocked: every
// client option goes into the ClientHello, so all of them must be set
// before the handshake starts. d.mu must be held.
func (s *clientSession) fixedLocked(what string) error {
	if s.d.target > stepSuspended {
		return fmt.Errorf("tlshost: %s: the handshake has already started; configure it before verify-server-identity, receive-client-identity-request or finish", what)
	}
	return nil
}

// resumeLocked moves the handshake on to step p, starting it if needed.
// d.mu must be held.
func (s *clientSession) resumeLocked(p step) {
	s.d.advanceLocked(p)
	if s.d.begunLocked() {
		return
	}
	// The backend keeps the configuration it is given; s.cfg is final
	// from here on (configure-* is refused once the handshake started,
	// see fixedLocked), so it gets s.cfg itself rather than a copy.
	s.cfg.VerifyServer = s.verifyServer
	s.cfg.ClientIdentity = s.clientIdentity
	s.cfg.NoClientIdentityRequest = s.noClientIdentityRequest
	conn, err := s.open(s.backend, "Client", func() (backends.Conn, error) { return s.backend.Client(s.transport, &s.cfg) })
	if err != nil {
		err = backendErr(s.backend, err)
		s.d.neverRunLocked() // nothing will run: resolve everything now
		s.failAll(err)
		return
	}
	s.conn = conn
	s.d.startLocked(s.backend, conn, blocksOnlyInTransport(conn, s.transport))
}

// VerifyServerIdentity resumes the handshake until the server's certificate
// chain passed default validation, and suspends it there. The future
// resolves with the chain, leaf first.
func (s *clientSession) VerifyServerIdentity() (*future[*peerChain], error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if err := s.stepCheckLocked("verify-server-identity", s.verified, stepVerifyServer); err != nil {
		return nil, err
	}
	s.verified = true
	s.resumeLocked(stepVerifyServer)
	return s.verifyFut, nil
}

// ReceiveClientIdentityRequest resumes the handshake until the server
// requested a client certificate (the future resolves with the request) or
// passed the point where it could have (the future resolves with nil).
func (s *clientSession) ReceiveClientIdentityRequest() (*future[*clientIdentityRequest], error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if err := s.stepCheckLocked("receive-client-identity-request", s.received, stepIdentityRequest); err != nil {
		return nil, err
	}
	s.received = true
	s.resumeLocked(stepIdentityRequest)
	return s.requestFut, nil
}

// Finish runs the rest of the handshake. The future resolves with the
// connection when the handshake completed. It consumes the handshake.
func (s *clientSession) Finish() *future[backends.Conn] {
	return s.finish(func() bool { return s.begun }, s.resumeLocked)
}

// Abort cancels the handshake. The returned channel is closed once the
// alert is out (or at once when nothing was sent yet). It consumes the
// handshake.
func (s *clientSession) Abort() *wasiio.Signal { return s.abort(s.failAll) }

// DropHandshake is called when the guest drops the client-handshake without
// finishing or aborting it: that is an abort.
func (s *clientSession) DropHandshake() { s.dropHandshake(s.failAll) }

// verifyServer is the VerifyServer hook, on the handshake goroutine.
func (s *clientSession) verifyServer(ctx context.Context, chain [][]byte) error {
	s.d.mu.Lock()
	// The hook runs once the target is at or past stepVerifyServer, after which
	// verify-server-identity can no longer be called: a guest that did not
	// call it never sees the future, so the chain is not copied for it.
	asked := s.verified
	s.d.mu.Unlock()
	// The future shares the backend's chain, and what the handshake
	// counted of it, rather than copying it (peercertbytes.go).
	var pc *peerChain
	if asked && len(chain) > 0 {
		pc = s.guard.meter.Load().share(chain)
	}
	s.d.enterHook()
	if !s.verifyFut.resolve(pc, nil) {
		pc.put()
	}
	return s.d.suspend(ctx, stepVerifyServer, nil)
}

// clientIdentity is the ClientIdentity hook, on the handshake goroutine.
//
// It copies the server's request for the guest only if the guest asked
// for it (receive-client-identity-request) or still may: a backend may
// call it while the guest waits at verify-server-identity (TLS 1.3's
// CertificateRequest precedes the server's Certificate); once the
// handshake went past that step without the call, the guest cannot ask
// (rules.stepCheckLocked). The server chooses the length of
// the request's CA names: 15,000 empty names, 60 KB of request, are some
// 450 KB of byte slices a copy. Before, every client connection kept a
// copy for its life, asked for or not: 470-570 KiB per connection to
// such a server.
func (s *clientSession) clientIdentity(ctx context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
	if req.PostHandshake {
		// The proposal has no post-handshake request for clients yet: answer
		// with what the guest chose during the handshake, if anything.
		s.d.mu.Lock()
		defer s.d.mu.Unlock()
		return s.responded, nil
	}
	r := &clientIdentityRequest{s: s}
	s.d.mu.Lock()
	copied := s.received || s.d.target < stepIdentityRequest
	s.d.mu.Unlock()
	if copied {
		// The copy counts as long as the guest holds it
		// (peerMeter.holdCopy).
		c := cloneRequest(req)
		hold, err := s.guard.meter.Load().holdCopy(c.heapBytes())
		if err != nil {
			return nil, err
		}
		c.hold = hold
		r.req = c
	}
	s.d.enterHook()
	if !s.requestFut.resolve(r, nil) {
		r.req.put()
	}
	defer func() {
		// A guest that did not ask for the request by now cannot (the
		// handshake went past the step, or ended): the copy goes.
		s.d.mu.Lock()
		received := s.received
		s.d.mu.Unlock()
		if !received {
			s.requestFut.abandon()
		}
	}()
	var ids []*backends.Identity
	var refused error
	err := s.d.waitUntil(ctx, func() bool {
		if r.answered {
			ids, refused = r.ids, r.err
			return true
		}
		// Past this point without an answer: the guest did not ask to see
		// the request, or finished without responding. Send nothing.
		return s.d.target > stepIdentityRequest
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, err
	}
	s.d.mu.Lock()
	s.responded = ids
	s.d.mu.Unlock()
	return ids, nil
}

// noClientIdentityRequest is the NoClientIdentityRequest hook.
func (s *clientSession) noClientIdentityRequest(ctx context.Context) {
	s.d.enterHook()
	if s.requestFut.resolve(nil, nil) {
		// The guest may be waiting for exactly this; suspend as at any step.
		// An abort or teardown shows up in the next hook or I/O.
		s.d.suspend(ctx, stepIdentityRequest, nil)
		return
	}
	s.d.leaveHook()
}

// handshakeDone resolves every future once the handshake goroutine is done.
func (s *clientSession) handshakeDone(err error) {
	if err != nil {
		s.failAll(err)
		return
	}
	s.verifyFut.resolve(nil, nil) // no certificate was seen (resumption)
	s.requestFut.resolve(nil, nil)
	s.d.mu.Lock()
	conn := s.conn
	s.d.mu.Unlock()
	s.streamsFut.resolve(conn, nil)
}

// failAll resolves every pending future with err.
func (s *clientSession) failAll(err error) {
	s.verifyFut.resolve(nil, err)
	s.requestFut.resolve(nil, err)
	s.streamsFut.resolve(nil, err)
}

// ServerName is the name given to connect.
func (s *clientSession) ServerName() (string, bool) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.serverName, s.begun
}

// A clientIdentityRequest is the server's certificate request, handed to the
// guest as a client-identity-request resource.
type clientIdentityRequest struct {
	s   *clientSession
	req *requestCopy

	// Guarded by s.d.mu.
	answered bool
	ids      []*backends.Identity
	err      error // the answer was refused: the guest's settings bytes
}

// Respond answers the request with identities in preference order; the
// backend sends the first one that fits. An empty list sends no
// certificate. Only the first answer counts.
func (r *clientIdentityRequest) Respond(ids []*backends.Identity) {
	d := r.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.answered {
		return
	}
	r.answered = true
	// Kept for the connection's life (a post-handshake request gets the
	// same answer): counted as a setting. Past the budget the handshake
	// fails with the limit's error. Once the connection closed its
	// settings went back to the budget, and nothing would read the answer:
	// it is refused rather than kept uncounted for as long as the guest
	// holds a resource that reaches the session.
	if r.s.closed {
		r.err = inCall("client-identity-request.respond", fmt.Errorf("%w: the answer is not kept", errClosed))
	} else if err := r.s.settings.set(settingResponse, int64(len(ids))*identityRefBytes); err != nil {
		r.err = inCall("client-identity-request.respond", err)
	} else {
		r.ids = cloneSlice(ids)
	}
	d.notifyLocked()
}

// Drop is dropping the request resource: the same as offering no
// certificate.
func (r *clientIdentityRequest) Drop() { r.Respond(nil) }

// A requestCopy is a certificate request as the host keeps it for the
// guest, its CA names packed (see packedList), and its share of the count
// of the guest's peers' bytes (peerMeter.holdCopy): the future holds it
// until the guest takes it (a client-identity-request) or drops the
// future, then the client-identity-request until the guest drops it.
type requestCopy struct {
	SignatureSchemes []uint16
	acceptableCAs    packedList
	hold             *peerHold
}

// newRequestFuture is a future of a certificate request, whose copy's
// count goes back if the guest drops the future without taking it.
func newRequestFuture() *future[*clientIdentityRequest] {
	f := newFuture[*clientIdentityRequest]()
	f.free = func(r *clientIdentityRequest) {
		if r != nil {
			r.req.put()
		}
	}
	return f
}

// heapBytes is what the copy holds on the heap.
func (c *requestCopy) heapBytes() int64 {
	return int64(unsafe.Sizeof(*c)) + 2*int64(cap(c.SignatureSchemes)) + int64(cap(c.acceptableCAs))
}

// put lets go of the copy's count.
func (c *requestCopy) put() {
	if c != nil {
		c.hold.put()
	}
}

func cloneRequest(req *backends.IdentityRequest) *requestCopy {
	return &requestCopy{
		SignatureSchemes: cloneSlice(req.SignatureSchemes),
		acceptableCAs:    pack(req.AcceptableCAs),
	}
}
