//go:build wasip1

package wasitls

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

// Config configures a client or server. A Config may be shared by many
// connections; do not modify it once in use. The zero value is a client
// with the host's secure defaults.
type Config struct {
	// ServerName is the name sent in SNI and checked against the server's
	// certificate (client). Dial fills it from the address when empty.
	ServerName string

	// NextProtos are the ALPN protocols, in preference order.
	NextProtos []string

	// Identities are the certificates (with their host-held keys): a
	// server chooses among them; a client offers them when the server asks
	// for a client certificate (unless GetClientCertificate is set).
	Identities []*Identity

	// MinVersion, MaxVersion, CipherSuites and CurvePreferences can only
	// narrow what the host allows (AllowedAlgorithms): the host keeps what
	// it allows of them, in this order, and the handshake fails to start
	// with the host's reason when nothing is left.
	//
	// MinVersion and MaxVersion bound the protocol versions (VersionTLS12,
	// VersionTLS13); zero means the host's default.
	MinVersion, MaxVersion uint16

	// CipherSuites are the cipher suites, in preference order (IANA code
	// points); empty means the host's default.
	CipherSuites []uint16

	// CurvePreferences are the key-exchange groups, in preference order
	// (IANA code points such as X25519MLKEM768); empty means the host's
	// default. A client sends key shares for the first KeyShares groups
	// (default 1).
	CurvePreferences []uint16
	KeyShares        int

	// VerifyPeerCertificate, when set, is called with the peer's chain
	// (DER, leaf first) after the host validated it: on a client with the
	// server's chain (verify-server-identity), on a server with the
	// client's (after request-client-identity). An error aborts the
	// handshake with an alert. It adds to the host's validation; it never
	// replaces it.
	VerifyPeerCertificate func(rawCerts [][]byte) error

	// GetClientCertificate, when set, chooses the identities a client
	// offers when the server asks for a certificate. Returning none
	// declines.
	GetClientCertificate func(*CertificateRequestInfo) ([]*Identity, error)

	// ClientAuth is a server's policy for client certificates.
	ClientAuth ClientAuthType

	// SessionTicketsDisabled turns session resumption off for the
	// connection, as in crypto/tls: a client offers no session and keeps
	// none, a server resumes none and issues no ticket. Resumption is on
	// by default where the host allows it; the host keeps the sessions
	// and ticket keys, and ConnectionState.DidResume tells whether a
	// connection resumed. A resumed client presents the certificate of
	// the session it resumed: set this on a connection that must present
	// another.
	SessionTicketsDisabled bool

	// GetConfigForClient, when set, is called by a server with the
	// ClientHello (receive-client-hello); a non-nil Config returned
	// replaces this one for the connection.
	GetConfigForClient func(*ClientHelloInfo) (*Config, error)
}

// commonSteps are the configure steps client and server handshakes share.
type commonSteps interface {
	ConfigureALPN(protos []string) error
	ConfigureVersions(v []uint16) error
	ConfigureCipherSuites(v []uint16) error
}

// configureCommon applies what c sets of the steps both sides share.
func (c *Config) configureCommon(h commonSteps) error {
	if len(c.NextProtos) > 0 {
		if err := h.ConfigureALPN(c.NextProtos); err != nil {
			return err
		}
	}
	if v := c.versions(); v != nil {
		if err := h.ConfigureVersions(v); err != nil {
			return err
		}
	}
	if len(c.CipherSuites) > 0 {
		return h.ConfigureCipherSuites(c.CipherSuites)
	}
	return nil
}

func (c *Config) versions() []uint16 {
	if c.MinVersion == 0 && c.MaxVersion == 0 {
		return nil
	}
	var v []uint16
	for _, x := range []uint16{VersionTLS13, VersionTLS12} {
		if (c.MinVersion == 0 || x >= c.MinVersion) && (c.MaxVersion == 0 || x <= c.MaxVersion) {
			v = append(v, x)
		}
	}
	return v
}

var (
	errAborted  = errors.New("wasitls: handshake aborted")
	errNoClient = errors.New("wasitls: client sent no certificate but the server requires one")
)

// Conn is a TLS connection over a wasinet connection. It implements
// net.Conn. Read and Write may be called from different goroutines; the
// handshake runs on first use or with Handshake.
type Conn struct {
	transport  net.Conn
	cfg        *Config
	isClient   bool
	serverName string

	cc tls.ClientConnection // client
	sc tls.ServerConnection // server

	hsMu         sync.Mutex
	started      bool
	done         bool
	ready        atomic.Bool // done without error: Read and Write skip hsMu
	handshakeErr error
	pendingCH    *ClientHandshake
	pendingSH    *ServerHandshake
	// peerRaw and peerParsed are the peer's chain as ConnectionState
	// last read it and parsed it (peerParsed is what it returns while
	// the chain stays the same).
	peerRaw    [][]byte
	peerParsed []*x509.Certificate
	// pendingReq is the last certificate request the client handshake
	// received: Close declines it, if still open, before it drops the
	// handshake, the request's parent.
	pendingReq *ClientIdentityRequest
	// clientHS and serverHS hold the handshake HandshakeContext drives,
	// so that it costs no allocation of its own.
	clientHS ClientHandshake
	serverHS ServerHandshake

	// r and w are the cleartext streams' reader and writer once the
	// handshake finished (nil before): rs and ws, part of the Conn so
	// that a handshake allocates neither.
	r  *wasinet.StreamReader
	w  *wasinet.StreamWriter
	rs wasinet.StreamReader
	ws wasinet.StreamWriter

	closeMu  sync.Mutex
	hsCancel context.CancelFunc // cancels a running step, or a handshake whose context can end
	// hsClose is the context of a handshake whose caller's context is
	// never done (Handshake without deadlines): Close ends it.
	hsClose     closeContext
	closed      bool
	wroteNotify bool

	// dlMu guards the deadlines, apart from closeMu: Close holds closeMu
	// across close_notify's flush (up to seconds on a peer that does not
	// read), and a deadline set meanwhile, from another goroutine, must
	// not wait for it (with crypto/tls it does not; it is what breaks
	// the flush). finish sets r and w under both locks.
	dlMu    sync.Mutex
	readDL  time.Time
	writeDL time.Time
	// shut is set once Close is done: deadlines set after it fail with
	// net.ErrClosed, as with crypto/tls (whose Close, like this one,
	// still takes a deadline while it flushes close_notify).
	shut atomic.Bool
}

// Client returns a client connection over conn, which must come from
// package guest/net. The handshake runs on first use.
func Client(conn net.Conn, config *Config) *Conn {
	if config == nil {
		config = &Config{}
	}
	return &Conn{transport: conn, cfg: config, isClient: true}
}

// Server returns a server connection over conn, which must come from
// package guest/net. The handshake runs on first use.
func Server(conn net.Conn, config *Config) *Conn {
	if config == nil {
		config = &Config{}
	}
	return &Conn{transport: conn, cfg: config}
}

// Dial connects to addr and runs a client handshake. A Config without a
// ServerName gets the host part of addr.
func Dial(network, addr string, config *Config) (*Conn, error) {
	return DialContext(context.Background(), network, addr, config)
}

// DialContext is Dial with a context bounding the connect and handshake.
func DialContext(ctx context.Context, network, addr string, config *Config) (*Conn, error) {
	if config == nil {
		config = &Config{}
	}
	if config.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		c := *config
		c.ServerName = host
		config = &c
	}
	raw, err := (&wasinet.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := Client(raw, config)
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

type listener struct {
	net.Listener
	cfg *Config
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(c, l.cfg), nil
}

// NewListener returns a listener whose Accept wraps inner's connections
// with Server.
func NewListener(inner net.Listener, config *Config) net.Listener {
	return &listener{inner, config}
}

// Listen listens with package guest/net and wraps the listener with
// NewListener.
func Listen(network, addr string, config *Config) (net.Listener, error) {
	l, err := wasinet.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return NewListener(l, config), nil
}

// Handshake runs the handshake if it has not run yet. As with crypto/tls
// over a connection with deadlines, the earlier of the read and write
// deadlines set when it starts bounds it; so does it the handshake a Read
// or Write runs (net/http's server bounds a connection's first read so).
//
// Once the handshake is done it returns at once, without the clock or a
// context.
func (c *Conn) Handshake() error {
	if c.ready.Load() {
		return nil
	}
	reserveStack(0)
	c.dlMu.Lock()
	dl := c.readDL
	if w := c.writeDL; !w.IsZero() && (dl.IsZero() || w.Before(dl)) {
		dl = w
	}
	c.dlMu.Unlock()
	if dl.IsZero() {
		return c.handshakeContext(context.Background())
	}
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	return c.handshakeContext(ctx)
}

// HandshakeContext runs the handshake, bounded by ctx, if it has not run
// yet. It returns the handshake's error on every call after a failure.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.ready.Load() {
		return nil
	}
	reserveStack(0)
	return c.handshakeContext(ctx)
}

// handshakeContext is HandshakeContext after the stack was grown: the
// earlier the growth, the fewer frames it copies (see reserveStack), so
// Handshake and HandshakeContext grow it before they call here.
func (c *Conn) handshakeContext(ctx context.Context) error {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.started {
		if !c.done && c.handshakeErr == nil {
			return errors.New("wasitls: handshake driven step by step is not finished")
		}
		return c.handshakeErr
	}
	c.started = true
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		c.handshakeErr = net.ErrClosed
		return c.handshakeErr
	}
	if ctx.Done() == nil {
		// Nothing but Close ends the handshake: its cancel is the
		// Conn's own (closeContext's poll.Canceler), with none of
		// context.WithCancel's allocations, lock rounds and parent
		// links (about a hundred guest calls), and no channel.
		c.hsClose = closeContext{Context: ctx, mu: &c.closeMu}
		ctx = &c.hsClose
	} else {
		ctx2, cancel := context.WithCancel(ctx)
		defer cancel()
		ctx = ctx2
		c.hsCancel = cancel
	}
	c.closeMu.Unlock()
	if c.isClient {
		c.handshakeErr = c.clientHandshake(ctx)
	} else {
		c.handshakeErr = c.serverHandshake(ctx)
	}
	return c.handshakeErr
}

func (c *Conn) clientHandshake(ctx context.Context) error {
	cfg := c.cfg
	in, out, err := takeStreams(c.transport)
	if err != nil {
		return err
	}
	c.cc = tls.NewClientConnection(in, out)
	c.serverName = cfg.ServerName
	hs, err := c.cc.Connect(cfg.ServerName)
	if err != nil {
		return c.hostReason("wasitls: the host refused to start a client handshake")
	}
	c.clientHS = ClientHandshake{conn: c, hs: hs}
	h := &c.clientHS
	c.pendingCH = h
	abort := func(err error) error {
		h.abort(ctx)
		return err
	}
	if err := cfg.configureCommon(h); err != nil {
		return abort(err)
	}
	if len(cfg.CurvePreferences) > 0 {
		if err := h.ConfigureGroups(cfg.CurvePreferences, cfg.KeyShares); err != nil {
			return abort(err)
		}
	}
	if cfg.SessionTicketsDisabled {
		if err := h.ConfigureResumption(false); err != nil {
			return abort(err)
		}
	}
	if cfg.VerifyPeerCertificate != nil {
		chain, err := h.verifyServerIdentity(ctx)
		if err != nil {
			return err
		}
		if err := cfg.VerifyPeerCertificate(chain); err != nil {
			return abort(fmt.Errorf("wasitls: server certificate rejected: %w", err))
		}
	}
	if cfg.GetClientCertificate != nil || len(cfg.Identities) > 0 {
		req, err := h.receiveClientIdentityRequest(ctx)
		if err != nil {
			return err
		}
		if req != nil {
			ids := cfg.Identities
			if cfg.GetClientCertificate != nil {
				ids, err = cfg.GetClientCertificate(req.Info())
				if err != nil {
					// Abort while the step is suspended, so that the
					// server gets the alert; declining first would let
					// the handshake go on and race the abort.
					err = abort(fmt.Errorf("wasitls: client certificate selection: %w", err))
					req.Decline()
					return err
				}
			}
			if len(ids) == 0 {
				req.Decline()
			} else {
				req.Respond(ids)
			}
		}
	}
	_, err = h.finish(ctx)
	return err
}

func (c *Conn) serverHandshake(ctx context.Context) error {
	cfg := c.cfg
	in, out, err := takeStreams(c.transport)
	if err != nil {
		return err
	}
	c.sc = tls.NewServerConnection(in, out)
	hs, err := c.sc.Accept()
	if err != nil {
		return errors.New("wasitls: the host refused to start a server handshake")
	}
	c.serverHS = ServerHandshake{conn: c, hs: hs}
	h := &c.serverHS
	c.pendingSH = h
	abort := func(err error) error {
		h.abort(ctx)
		return err
	}
	if cfg.GetConfigForClient != nil {
		hello, err := h.receiveClientHello(ctx)
		if err != nil {
			return err
		}
		c.serverName = hello.ServerName
		next, err := cfg.GetConfigForClient(hello)
		if err != nil {
			return abort(fmt.Errorf("wasitls: GetConfigForClient: %w", err))
		}
		if next != nil {
			cfg = next
		}
	}
	if len(cfg.Identities) > 0 {
		if err := h.ConfigureIdentities(cfg.Identities); err != nil {
			return abort(err)
		}
	}
	if err := cfg.configureCommon(h); err != nil {
		return abort(err)
	}
	if len(cfg.CurvePreferences) > 0 {
		if err := h.ConfigureGroups(cfg.CurvePreferences); err != nil {
			return abort(err)
		}
	}
	if cfg.SessionTicketsDisabled {
		if err := h.ConfigureResumption(false); err != nil {
			return abort(err)
		}
	}
	if cfg.ClientAuth != NoClientCert {
		chain, err := h.requestClientIdentity(ctx)
		if err != nil {
			return err
		}
		if chain == nil && cfg.ClientAuth == RequireAnyClientCert {
			return abort(errNoClient)
		}
		if chain != nil && cfg.VerifyPeerCertificate != nil {
			if err := cfg.VerifyPeerCertificate(chain); err != nil {
				return abort(fmt.Errorf("wasitls: client certificate rejected: %w", err))
			}
		}
	}
	_, err = h.finish(ctx)
	return err
}

// failure turns a failed future into the handshake's error.
func (c *Conn) failure(step string, err error) error {
	if errors.Is(err, tls.ErrConsumed) {
		return errors.New("wasitls: " + step + ": future already consumed")
	}
	return c.hostReason("wasitls: handshake failed before the " + step)
}

// hostReason returns the host's reason for the connection's most recent
// failed step (wasitls:tls/extensions client-last-error, server-last-error),
// or fallback when the host has none.
func (c *Conn) hostReason(fallback string) error {
	var msg string
	var ok bool
	switch {
	case c.cc != 0:
		msg, ok = tlsext.ClientLastError(c.cc)
	case c.sc != 0:
		msg, ok = tlsext.ServerLastError(c.sc)
	}
	if ok {
		return errors.New("wasitls: " + msg)
	}
	return errors.New(fallback)
}

// closeContext is the context of a handshake whose caller's context is
// never done: done once Close calls cancelLocked, with the Conn's closeMu
// (mu) held. The handshake's waits (await) end through its Canceler, with
// no channel made or closed and no select for a parked wait; Done makes a
// channel only for a caller that asks for one.
type closeContext struct {
	context.Context             // the caller's: values and no deadline
	mu              *sync.Mutex // the Conn's closeMu; nil before a handshake set x up
	cancel          poll.Canceler
	done            chan struct{} // made by Done; guarded by mu
	canceled        bool          // guarded by mu
}

func (x *closeContext) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
		if x.canceled {
			close(x.done)
		}
	}
	return x.done
}

func (x *closeContext) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.canceled {
		return context.Canceled
	}
	return nil
}

// cancelLocked ends the handshake's context, if a handshake started with
// one. The Conn's closeMu is held.
func (x *closeContext) cancelLocked() {
	if x.mu != nil && !x.canceled {
		x.canceled = true
		x.cancel.Cancel()
		if x.done != nil {
			close(x.done)
		}
	}
}

// beginStep takes c.hsMu for a step the caller drives that waits on a
// future of the connection (Finish, the resumptions, post-handshake
// authentication), as HandshakeContext does, and registers a cancel of
// ctx that Close calls: Close then waits for the step to drop its future
// before it drops the handshake and the connection resource, which the
// host refuses while a child is live. It returns net.ErrClosed when Close
// ran already. end undoes it.
func (c *Conn) beginStep(ctx context.Context) (_ context.Context, end func(), _ error) {
	if err := c.lockStep(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	c.hsCancel = cancel
	c.closeMu.Unlock()
	return ctx, func() {
		cancel()
		c.hsMu.Unlock()
	}, nil
}

// beginAbort is beginStep for Abort, which Close does not cancel: an
// abort is a release already, its wait for the alert is bounded by the
// host, and cut short it would lose the alert and report a cancellation
// for a handshake that was aborted. Close waits for it instead, then
// releases the connection. end unlocks c.hsMu.
func (c *Conn) beginAbort() (end func(), _ error) {
	if err := c.lockStep(); err != nil {
		return nil, err
	}
	c.hsCancel = nil
	c.closeMu.Unlock()
	return c.hsMu.Unlock, nil
}

// lockStep takes c.hsMu and then c.closeMu, unless Close ran already
// (net.ErrClosed, neither held).
func (c *Conn) lockStep() error {
	c.hsMu.Lock()
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		c.hsMu.Unlock()
		return net.ErrClosed
	}
	return nil
}

// finish waits for the handshake's cleartext streams. c.hsMu is held.
func (c *Conn) finish(ctx context.Context, f tls.FutureStreams) error {
	defer f.Drop()
	c.pendingCH, c.pendingSH = nil, nil
	c.started = true
	if err := await(ctx, f.Subscribe()); err != nil {
		c.handshakeErr = err
		return err
	}
	in, out, _, err := f.Get()
	if err != nil {
		if errors.Is(err, tls.ErrConsumed) {
			c.handshakeErr = errors.New("wasitls: handshake future already consumed")
		} else {
			c.handshakeErr = c.hostReason("wasitls: handshake failed")
		}
		return c.handshakeErr
	}
	r, w := &c.rs, &c.ws
	r.Init(in)
	w.Init(out)
	c.closeMu.Lock()
	if c.closed {
		// Close ran while the streams were on their way (its cancel came
		// after the host had finished): it did not see them, so they are
		// dropped here, or the host would hold them until the guest ends.
		// Close reads c.r and c.w only under closeMu, so exactly one of
		// the two drops them.
		c.closeMu.Unlock()
		r.Close()
		w.Close()
		c.handshakeErr = net.ErrClosed
		return c.handshakeErr
	}
	c.dlMu.Lock()
	c.r, c.w = r, w
	if !c.readDL.IsZero() {
		c.r.SetDeadline(c.readDL)
	}
	if !c.writeDL.IsZero() {
		c.w.SetDeadline(c.writeDL)
	}
	c.dlMu.Unlock()
	c.closeMu.Unlock()
	c.done = true
	c.ready.Store(true)
	return nil
}

func (c *Conn) opErr(op string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return &net.OpError{Op: op, Net: "tls", Source: c.transport.LocalAddr(), Addr: c.transport.RemoteAddr(), Err: err}
}

// Read reads cleartext, running the handshake first if needed. It returns
// io.EOF after the peer's close_notify; a connection cut without one is an
// error.
func (c *Conn) Read(b []byte) (int, error) {
	if !c.ready.Load() {
		if err := c.Handshake(); err != nil {
			return 0, err
		}
	}
	n, err := c.r.Read(b)
	if err != nil {
		err = c.opErr("read", err)
	}
	return n, err
}

// Write writes cleartext, running the handshake first if needed.
//
// Once the handshake is done, Read and Write check that with one atomic
// load, without hsMu: under wazero's termination checks a lock and the
// call of Handshake cost the guest calls out of it on every Write
// (guest/net's StreamWriter.Write).
func (c *Conn) Write(b []byte) (int, error) {
	if !c.ready.Load() {
		if err := c.Handshake(); err != nil {
			return 0, err
		}
	}
	n, err := c.w.Write(b)
	if err != nil {
		err = c.opErr("write", err)
	}
	return n, err
}

// CloseWrite flushes what was written and sends close_notify: the peer
// reads EOF. Reading goes on until the peer's close_notify. It does not
// wait for a Write in progress on another goroutine, which may be blocked
// for good on a peer that does not read: it then fails with an error
// matching wasinet.ErrWriteInProgress, and a later CloseWrite or Close
// sends close_notify once the Write is done.
func (c *Conn) CloseWrite() error {
	if err := c.Handshake(); err != nil {
		return err
	}
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeNotify()
}

// closeNotify sends close_notify once. c.closeMu is held.
func (c *Conn) closeNotify() error {
	if c.wroteNotify {
		return nil
	}
	if err := flushForNotify(c.w); err != nil {
		c.wroteNotify = !errors.Is(err, wasinet.ErrWriteInProgress)
		return c.opErr("close", err)
	}
	c.wroteNotify = true
	var err error
	if c.isClient {
		err = tlsext.CloseClientOutput(c.cc)
	} else {
		err = tlsext.CloseServerOutput(c.sc)
	}
	if err != nil {
		return c.opErr("close", extErr(err))
	}
	return nil
}

// flushForNotify flushes w before close_notify, which may be sent only
// when it returns nil. Like crypto/tls's Close, it does not wait for ever
// on a peer that does not read (a write deadline, when set, bounds it
// instead). When the flush fails, or cannot start because a Write is in
// progress (the error then matches wasinet.ErrWriteInProgress; a Close
// breaks the Write, as crypto/tls's does), close_notify is not sent: it
// would queue behind output the peer does not take, and the host's
// close-output would block the whole guest waiting for it.
func flushForNotify(w *wasinet.StreamWriter) error {
	if err := w.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("wasitls: close_notify not sent: %w", err)
	}
	return nil
}

// Close sends close_notify (after a completed handshake, unless another
// goroutine is in Write, which Close then breaks, or the output cannot be
// flushed), releases the TLS resources and closes the underlying
// connection.
func (c *Conn) Close() error {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	// The streams as of now, read once under closeMu: a handshake
	// finishing later sees c.closed and drops its streams itself (see
	// finish).
	r, w := c.r, c.w
	var err error
	if r != nil {
		if err = c.closeNotify(); err != nil && errors.Is(err, wasinet.ErrWriteInProgress) {
			err = nil // the Write is woken below
		}
	}
	if c.hsCancel != nil {
		c.hsCancel()
	}
	c.hsClose.cancelLocked()
	c.closeMu.Unlock()
	// Wake pending reads and writes, then take the handshake lock so that
	// nothing else uses the resources while they are dropped.
	if r != nil {
		r.Close()
		w.Close()
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if r := c.pendingReq; r != nil {
		c.closeMu.Lock()
		r.decline()
		c.closeMu.Unlock()
	}
	if h := c.pendingCH; h != nil && !h.consumed {
		h.consumed = true
		h.hs.Drop()
	}
	if h := c.pendingSH; h != nil && !h.consumed {
		h.consumed = true
		h.hs.Drop()
	}
	if c.cc != 0 {
		c.cc.Drop()
		c.cc = 0
	}
	if c.sc != 0 {
		c.sc.Drop()
		c.sc = 0
	}
	if cerr := c.transport.Close(); err == nil {
		err = cerr
	}
	c.shut.Store(true)
	return err
}

// LocalAddr returns the underlying connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.transport.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.transport.RemoteAddr() }

// SetDeadline sets the read and write deadlines (of cleartext I/O, and of
// a handshake that has not started: see Handshake). Once Close returned,
// it fails with an error matching net.ErrClosed (so do SetReadDeadline
// and SetWriteDeadline); during Close it still sets them, which bounds
// close_notify's flush.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.shut.Load() {
		return c.opErr("set", net.ErrClosed)
	}
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.readDL = t
	if c.r != nil {
		c.r.SetDeadline(t)
	}
	return nil
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.shut.Load() {
		return c.opErr("set", net.ErrClosed)
	}
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.writeDL = t
	if c.w != nil {
		c.w.SetDeadline(t)
	}
	return nil
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.transport }

// ConnectionState describes a connection, as far as the handshake got.
// Package tlsnames names its code points (tlsnames.Version,
// tlsnames.CipherSuite, tlsnames.Group), as the standard library's crypto/tls
// functions do for what crypto/tls knows.
type ConnectionState struct {
	Version            uint16 // VersionTLS12 or VersionTLS13
	HandshakeComplete  bool
	CipherSuite        uint16
	CurveID            uint16 // the key-exchange group (IANA code point)
	NegotiatedProtocol string // ALPN
	ServerName         string // SNI: sent (client) or received (server)

	// RawPeerCertificates is the peer's chain, DER, leaf first: the
	// server's on a client, the client's (if any) on a server.
	RawPeerCertificates [][]byte
	// PeerCertificates is RawPeerCertificates parsed; certificates
	// crypto/x509 cannot parse are left out.
	PeerCertificates []*x509.Certificate
	// LocalCertificate is the chain this side presented, if any.
	LocalCertificate [][]byte
	// DidResume reports that the handshake resumed a session: the peer's
	// chain is the one the session was authenticated with.
	DidResume bool
	// OCSPResponse is the OCSP response the server stapled (client side;
	// DER, unchecked, as crypto/tls reports it), nil when none.
	OCSPResponse []byte
}

// ConnectionState returns the connection's state, read from the host at
// each call. After Close it reports HandshakeComplete and nothing else,
// unlike crypto/tls: the host's connection is gone, and reading the state
// for it at every Close cost a Go guest's handshakes 0.69-0.78x native
// → 0.63-0.70x (stdtls, X25519, TestBudget interleaved with native, 8
// and 9 runs). Read it before Close.
//
// The peer's chain is parsed once: a later call whose chain is the same
// (every request on a reused HTTP/2 connection reads the state, see
// guest/http) returns the same PeerCertificates, as crypto/tls does. A
// chain that changed (a client's, after post-handshake authentication)
// is parsed again.
func (c *Conn) ConnectionState() ConnectionState {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	s := c.readState()
	if !slices.EqualFunc(s.RawPeerCertificates, c.peerRaw, bytes.Equal) {
		c.peerRaw, c.peerParsed = s.RawPeerCertificates, nil
		for _, der := range s.RawPeerCertificates {
			if cert, err := x509.ParseCertificate(der); err == nil {
				c.peerParsed = append(c.peerParsed, cert)
			}
		}
	}
	s.PeerCertificates = c.peerParsed
	return s
}

// readState asks the host for the connection's state, all of it but
// PeerCertificates. c.hsMu is held.
func (c *Conn) readState() ConnectionState {
	s := ConnectionState{HandshakeComplete: c.done}
	var (
		local tls.PrivateIdentity
		peer  tls.PublicIdentity
		okL   bool
		okP   bool
	)
	switch {
	case c.cc != 0:
		s.Version, _ = c.cc.ProtocolVersion()
		s.CipherSuite, _ = c.cc.CipherSuite()
		s.CurveID, _ = tlsext.ClientNegotiatedGroup(c.cc)
		if id, ok := c.cc.ALPNID(); ok {
			s.NegotiatedProtocol = string(id)
		}
		s.ServerName, _ = c.cc.ServerName()
		s.DidResume = tlsext.ClientSessionResumed(c.cc)
		s.OCSPResponse, _ = tlsext.ClientOCSPResponse(c.cc)
		local, okL = c.cc.ClientIdentity()
		peer, okP = c.cc.ServerIdentity()
	case c.sc != 0:
		s.Version, _ = c.sc.ProtocolVersion()
		s.CipherSuite, _ = c.sc.CipherSuite()
		s.CurveID, _ = tlsext.ServerNegotiatedGroup(c.sc)
		if id, ok := c.sc.ALPNID(); ok {
			s.NegotiatedProtocol = string(id)
		}
		s.ServerName, _ = c.sc.ServerName()
		s.DidResume = tlsext.ServerSessionResumed(c.sc)
		local, okL = c.sc.ServerIdentity()
		peer, okP = c.sc.ClientIdentity()
	default:
		return s
	}
	if okP {
		s.RawPeerCertificates = chainOf(peer)
	}
	if okL {
		pub := local.PublicIdentity()
		s.LocalCertificate = chainOf(pub)
		local.Drop()
	}
	return s
}

// RequestClientCertificate asks the client for a certificate after the
// handshake (TLS 1.3 post-handshake authentication) and returns the chain
// once the host validated it (nil when the client sent none). Hosts whose
// TLS backend cannot do this (crypto/tls cannot) refuse, and the error says
// so. It holds the handshake lock while it waits, as a handshake step
// does: a Close from another goroutine cancels it, and ConnectionState
// waits for it.
func (c *Conn) RequestClientCertificate(ctx context.Context) ([][]byte, error) {
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	ctx, end, err := c.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if c.sc == 0 {
		return nil, errors.New("wasitls: RequestClientCertificate on a client connection")
	}
	f, err := c.sc.RequestClientIdentity()
	if err != nil {
		return nil, c.hostReason("wasitls: the host refused post-handshake client authentication")
	}
	defer f.Drop()
	if err := await(ctx, f.Subscribe()); err != nil {
		return nil, err
	}
	id, some, _, err := f.Get()
	if err != nil {
		return nil, c.hostReason("wasitls: post-handshake client authentication failed")
	}
	if !some {
		return nil, nil
	}
	return chainOf(id), nil
}
