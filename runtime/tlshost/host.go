package tlshost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasi/tls/tls"
	"github.com/wasitls/wasitls/bindings/wasi/tls/types"
	ext01 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.1.0/extensions"
	ext02 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.2.0/extensions"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/safelog"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/link"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// Host serves wasi:tls (the proposal and the upstream draft) and the
// wasitls extensions over one backend. It is shared by every guest of a
// runtime; per-connection state lives in the resources.
type Host struct {
	cfg     Config
	backend backends.Backend // as the host holds it (see hostBackend)

	tickets    *ticketKeys // nil: server resumption off
	sessionsMu sync.Mutex  // making a guest's session cache on first use

	// ext is the extension (New) through which a runtime.Runtime
	// registered the host (Config.Extensions), nil when the embedder did
	// (Register): the host then serves only the guests of the Runtimes
	// that list ext (see guest).
	ext *extension

	// warn and logPanicFunc are what every connection logs through
	// (limit), made once rather than per connection.
	warn         func(what string, err error)
	logPanicFunc func(err error, stack []byte)
}

var _ tls.Host = (*Host)(nil)

// NewHost resolves cfg's backend, checks that it implements cfg's lists,
// and returns the host.
func NewHost(cfg Config) (*Host, error) {
	raw, err := cfg.backend()
	if err != nil {
		return nil, err
	}
	// What the backend says of itself, asked once (see hostBackend).
	b, err := describe(raw, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if _, err := checkVersions(cfg.Versions); err != nil && len(cfg.Versions) > 0 {
		return nil, fmt.Errorf("tlshost: Config.Versions: %w", err)
	}
	for _, l := range []struct {
		what string
		k    kind
		ids  []uint16
	}{{"CipherSuites", suiteKind, cfg.CipherSuites}, {"Groups", groupKind, cfg.Groups}} {
		if _, err := checkCodePoints(l.k, l.ids); err != nil && len(l.ids) > 0 {
			return nil, fmt.Errorf("tlshost: Config.%s: %w", l.what, err)
		}
	}
	if n := cfg.MaxPeerRSAKeyBits; n != 0 && n < 1024 {
		return nil, fmt.Errorf("tlshost: Config.MaxPeerRSAKeyBits is %d, want at least 1024 (or 0 for %d)", n, backends.DefaultMaxRSAKeyBits)
	}
	// The host's own copy of the lists, which every connection shares
	// (see Config.options), and of the identities, which host-identity
	// reads: the embedder may reuse or change its slices and its map.
	cfg.Versions = cloneSlice(cfg.Versions)
	cfg.CipherSuites = cloneSlice(cfg.CipherSuites)
	cfg.Groups = cloneSlice(cfg.Groups)
	cfg.Identities = maps.Clone(cfg.Identities)
	base := cfg.options()
	if err := newCeiling(b, &base).check(b); err != nil {
		return nil, err
	}
	if err := probeOptions(b, base, cfg.Logger); err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, backend: b}
	h.warn = func(what string, err error) { h.logFailure(what, err) }
	if cfg.KeyLog != nil {
		h.cfg.KeyLog = &keyLog{w: cfg.KeyLog, max: cfg.keyLogBytes(), warn: func(err error) { h.warn("writing the key log", err) }}
	}
	h.logPanicFunc = h.logPanic
	if r := cfg.ticketKeyRotation(); r > 0 {
		h.tickets = newTicketKeys(r, cfg.Time)
	}
	return h, nil
}

// New returns the runtime extension that registers the wasi:tls host
// (wasi:tls/tls@0.2.0-pr104, wasi:tls/types@0.2.0-draft and
// wasitls:tls/extensions@0.1.0, @0.2.0 and @0.3.0) with cfg. A backend that cannot be found
// is reported by Register. The extension makes one Host, at its first
// registration: listed by several runtime.Runtimes (one runtime.Config
// given to several runtime.New calls, at once or not), each over a
// wazero runtime of its own, it registers that Host in each, and their
// guests share its session-ticket keys.
func New(cfg Config) runtime.Extension {
	return &extension{cfg: cfg}
}

// extension is the runtime extension New returns: the host, made when
// the runtime first registers it, with its per-guest state.
type extension struct {
	cfg Config

	once sync.Once
	h    atomic.Pointer[Host] // set once, by host
	err  error                // NewHost's, set once, by host
}

var (
	_ runtime.GuestExtension  = (*extension)(nil)
	_ runtime.LinkedExtension = (*extension)(nil)
)

// host makes the extension's host at its first call and returns it, or
// why it could not be made, at every call. Before, each registration
// made a host of its own and replaced the last one in the field every
// guest's instantiation read: runtimes sharing the extension and made at
// once raced on it.
func (e *extension) host() (*Host, error) {
	e.once.Do(func() {
		h, err := NewHost(e.cfg)
		if err != nil {
			e.err = err
			return
		}
		h.ext = e
		e.h.Store(h)
	})
	return e.h.Load(), e.err
}

func (e *extension) Register(ctx context.Context, r wazero.Runtime) error {
	h, err := e.host()
	if err != nil {
		return err
	}
	return h.Register(ctx, r)
}

func (e *extension) NewGuest(ctx context.Context, g *runtime.Guest) error {
	h := e.h.Load()
	if h == nil {
		return errors.New("tlshost: the extension was not registered")
	}
	return h.NewGuest(ctx, g)
}

// Implementations lists the host's interfaces for the runtime's Linker, so
// components can import them (runtime.LinkedExtension).
func (e *extension) Implementations() []link.Implementation {
	h := e.h.Load()
	if h == nil {
		return nil
	}
	return h.Implementations()
}

// Implementations lists the host's interfaces as the link package serves
// them: the proposal, the draft, and every version of the extensions.
func (h *Host) Implementations() []link.Implementation {
	return []link.Implementation{
		{Interface: tls.ModuleName, Version: tls.Version, Functions: func(m string) []cabi.HostFunc { return tls.Functions(h, m) }},
		{Interface: types.ModuleName, Version: types.Version, Functions: func(m string) []cabi.HostFunc { return types.Functions(draftHost{h}, m) }},
		{Interface: ext01.ModuleName, Version: ext01.Version, Functions: func(m string) []cabi.HostFunc { return ext01.Functions(extensionsHost{h}, m) }},
		{Interface: ext02.ModuleName, Version: ext02.Version, Functions: func(m string) []cabi.HostFunc { return ext02.Functions(ext02Host{extensionsHost{h}}, m) }},
		{Interface: extensions.ModuleName, Version: extensions.Version, Functions: func(m string) []cabi.HostFunc { return extensions.Functions(extensionsHost{h}, m) }},
	}
}

// Register instantiates the host modules in r: the proposal, the draft,
// and every version of the extensions. An r that already has a wasi:tls
// host is refused: host modules belong to the wazero.Runtime, so two would
// collide, and the first would serve the guests of both.
func (h *Host) Register(ctx context.Context, r wazero.Runtime) error {
	if m := tls.ModuleName + "@" + tls.Version; r.Module(m) != nil {
		return fmt.Errorf("tlshost: the wazero runtime already has a wasi:tls host (module %s), "+
			"which serves every guest of every runtime.Runtime made over it: "+
			"make a wazero.Runtime for each wasi:tls configuration", m)
	}
	if err := tls.Register(ctx, r, h); err != nil {
		return err
	}
	if err := types.Register(ctx, r, draftHost{h}); err != nil {
		return err
	}
	// Guests built against 0.1.0 or 0.2.0 keep working: each version only
	// adds functions.
	if err := ext01.Register(ctx, r, extensionsHost{h}); err != nil {
		return err
	}
	if err := ext02.Register(ctx, r, ext02Host{extensionsHost{h}}); err != nil {
		return err
	}
	return extensions.Register(ctx, r, extensionsHost{h})
}

// Backend returns the backend the host delegates to.
func (h *Host) Backend() backends.Backend { return unwrapBackend(h.backend) }

// logFailure reports a failure the guest only sees as an error case
// without payload (the proposal's results carry none). A connection's
// failure adds its side ("side", "client" or "server"), so that a reader
// of the log (the wasitls command's hints) tells a server certificate the
// host rejected from a client certificate. Config.Logger is the
// embedder's code, here often on the host's goroutines: a panic of it is
// recovered (safelog.Log), the record lost, as in logPanic and describe.
func (h *Host) logFailure(what string, err error, attrs ...any) {
	if h.cfg.Logger != nil {
		args := append([]any{"backend", h.backend.Name()}, attrs...)
		safelog.Log(h.cfg.Logger, slog.LevelWarn, "wasi:tls: "+what+" failed", append(args, "err", boundedError{err})...)
	}
}

// limit applies the host's limits to a new connection of the guest of
// ctx, before anyone else sees it: held gives back the socket its
// transport counts as (see transport), its settings count against the
// guest's budget (settingsOf), and its handshake timeout's expiry is
// recorded through fail (the connection's last error); what the guest is
// never told is logged. A panic of the backend is logged with its stack,
// and recorded in last, if not nil, as the reason of the connection it
// broke.
func (h *Host) limit(ctx context.Context, e *ending, held func(), fail func(what string, err error), last *lastError) {
	e.held = held
	e.settings = h.settingsOf(ctx)
	e.setWorkers(h.coWorkersOf(ctx))
	e.setHandshakeTimeout(h.cfg.handshakeTimeout(), fail)
	e.setWarn(h.warn)
	e.setLogPanic(h.logPanicFunc)
	if last != nil {
		e.setReportBroken(last.set)
	}
}

// logPanic logs a backend's panic (see shield) with its stack, which
// the guest never sees.
func (h *Host) logPanic(err error, stack []byte) {
	logBackendPanic(h.cfg.Logger, h.backend.Name(), err, stack)
}

// transport builds the transport for a new connection; when the streams
// cannot carry TLS the connection fails at its first handshake step.
//
// A connection over another connection's cleartext (TLS tunnelled through
// TLS) counts as a socket of the guest (runtime.Guest.HoldSocket) until
// it is released (held, given back by ending.release): it holds what a
// connection does, some 30 to 60 KiB, and without the count the guest
// could nest connections over one socket as deep as its handles allowed.
// Past the socket limit it fails at its first handshake step too.
func (h *Host) transport(ctx context.Context, in tls.InputStream, out tls.OutputStream) (t net.Conn, held func()) {
	fail := func(err error) (net.Conn, func()) {
		in.Drop()
		out.Drop()
		h.logFailure("client-connection/server-connection constructor", err)
		return brokenConn{err}, nil
	}
	if _, tunnel := in.(*cleartextInput); tunnel {
		if g := runtime.GuestFrom(ctx); g != nil {
			release, err := g.HoldSocket()
			if err != nil {
				return fail(fmt.Errorf("tlshost: a connection over another connection's cleartext counts as a socket: %w", err))
			}
			held = release
		}
	}
	t, err := transportOf(in, out)
	if err != nil {
		if held != nil {
			held()
		}
		return fail(err)
	}
	return t, held
}

// PrivateIdentityParse hands the key and chain to the backend; the key
// stays in the host.
func (h *Host) PrivateIdentityParse(ctx context.Context, key []byte, chain [][]byte) (tls.PrivateIdentity, error) {
	// The bytes the guest's identities hold are bounded (identitybytes.go).
	n := int64(len(key))
	for _, c := range chain {
		n += int64(len(c)) + chainElemCost
	}
	count := h.identityBytes(ctx, "private-identity.parse")
	if err := count.parse(n); err != nil {
		h.logFailure("private-identity.parse", err)
		return nil, err
	}
	// key and chain are views of guest memory: the backend must copy what
	// it keeps, and crypto/x509 does. A panic of it is its error (see
	// hostBackend).
	id, err := h.backend.ParseIdentity(append([]byte(nil), key...), cloneChain(chain))
	if err != nil {
		count.give(n)
		h.logFailure("private-identity.parse", err)
		return nil, err
	}
	// What the parse made of them counts too: the parsed key and leaf.
	parsed := identityParsedBytes + backends.IdentityHeapBytes(id)
	if err := count.parse(parsed); err != nil {
		count.give(n)
		h.logFailure("private-identity.parse", err)
		return nil, err
	}
	count.hold(id, n+parsed)
	return &privateIdentity{id: id}, nil
}

// ---- client ----

// NewClientConnection wraps the guest's raw streams.
func (h *Host) NewClientConnection(ctx context.Context, in tls.InputStream, out tls.OutputStream) tls.ClientConnection {
	counted := h.admitConnection(ctx, "wasi:tls/tls#[constructor]client-connection", in, out)
	c := &clientConnection{h: h}
	base := h.cfg.clientBase()
	t, held := h.transport(ctx, in, out)
	base.Sessions = sessionsFor(h.sessions(ctx), t.RemoteAddr())
	c.s = newClientSession(h.backend, base, t)
	c.s.counted = counted
	h.limit(ctx, &c.s.ending, held, c.fail, &c.last)
	return c
}

// clientConnection is the client-connection resource.
type clientConnection struct {
	h    *Host
	s    *clientSession
	last lastError

	mu  sync.Mutex
	in  *cleartextInput
	out *cleartextOutput
}

var _ tls.ClientConnection = (*clientConnection)(nil)

func (c *clientConnection) host() *Host { return c.h }

func (c *clientConnection) openStreams(conn backends.Conn) (*cleartextInput, *cleartextOutput) {
	in, out := openStreams(conn, &c.s.ending, c)
	c.mu.Lock()
	c.in, c.out = in, out
	c.mu.Unlock()
	return in, out
}

func (c *clientConnection) Connect(ctx context.Context, serverName string) (tls.ClientHandshake, error) {
	pending := c.h.pending(ctx, "wasi:tls/tls#[method]client-connection.connect")
	if err := pending.admit(c.s); err != nil {
		c.fail("connect", err)
		return nil, err
	}
	if err := c.s.Connect(serverName); err != nil {
		pending.forget(c.s)
		c.fail("connect", err)
		return nil, err
	}
	c.h.countPeer(ctx, "wasi:tls/tls#[method]client-connection.connect", &c.s.ending)
	return &clientHandshake{conn: c}, nil
}

func (c *clientConnection) ServerName(context.Context) (string, bool) { return c.s.ServerName() }

func (c *clientConnection) ALPNID(context.Context) (tls.ALPNID, bool) {
	st, ok := c.s.State()
	if !ok || st.ALPN == "" {
		return nil, false
	}
	return []byte(st.ALPN), true
}

func (c *clientConnection) ClientIdentity(context.Context) (tls.PrivateIdentity, bool) {
	st, _ := c.s.State()
	return wrapIdentity(st.LocalIdentity)
}

func (c *clientConnection) ServerIdentity(context.Context) (tls.PublicIdentity, bool) {
	st, ok := c.s.State()
	if !ok {
		return nil, false
	}
	if len(st.PeerChain) == 0 {
		return nil, false
	}
	// Shared with the backend, with what the handshake counted of it.
	return wrapChain(c.s.guard.meter.Load().share(st.PeerChain))
}

func (c *clientConnection) ProtocolVersion(context.Context) (tls.ProtocolVersion, bool) {
	st, ok := c.s.State()
	return st.Version, ok && st.Version != 0
}

func (c *clientConnection) CipherSuite(context.Context) (tls.CipherSuite, bool) {
	st, ok := c.s.State()
	return st.CipherSuite, ok && st.CipherSuite != 0
}

// Drop closes the connection: the handshake goroutine ends and the
// transport is closed.
func (c *clientConnection) Drop() { c.s.Close() }

// clientHandshake is the client-handshake resource, a child of the
// connection.
type clientHandshake struct {
	conn *clientConnection
}

var _ tls.ClientHandshake = (*clientHandshake)(nil)

func (hs *clientHandshake) ConfigureALPNIDs(_ context.Context, ids []tls.ALPNID) error {
	return hs.conn.check("configure-alpn-ids", hs.conn.s.ConfigureALPN(ids))
}

func (hs *clientHandshake) VerifyServerIdentity(context.Context) (tls.FuturePublicIdentity, error) {
	f, err := hs.conn.s.VerifyServerIdentity()
	if err != nil {
		hs.conn.fail("verify-server-identity", err)
		return nil, err
	}
	return &futurePublicIdentity{f: f, parent: hs, conn: hs.conn, what: "verify-server-identity"}, nil
}

func (hs *clientHandshake) ReceiveClientIdentityRequest(context.Context) (tls.FutureClientIdentityRequest, error) {
	f, err := hs.conn.s.ReceiveClientIdentityRequest()
	if err != nil {
		hs.conn.fail("receive-client-identity-request", err)
		return nil, err
	}
	return &futureClientIdentityRequest{f: f, parent: hs}, nil
}

func (hs *clientHandshake) ResourceParent() cabi.Resource { return hs.conn }

// Drop aborts a handshake dropped without finish or abort.
func (hs *clientHandshake) Drop() { hs.conn.s.DropHandshake() }

// ClientHandshakeFinish runs the rest of a client handshake; the future
// resolves with the cleartext streams when it completed.
func (h *Host) ClientHandshakeFinish(_ context.Context, this tls.ClientHandshake) tls.FutureStreams {
	hs := this.(*clientHandshake)
	return &futureStreams{f: hs.conn.s.Finish(), conn: hs.conn, what: "client handshake"}
}

// ClientHandshakeAbort cancels a client handshake; the pollable is ready
// once the alert is out (at once when nothing was sent yet).
func (h *Host) ClientHandshakeAbort(_ context.Context, this tls.ClientHandshake) tls.Pollable {
	hs := this.(*clientHandshake)
	return newPollable(hs.conn.s.Abort(), hs.conn)
}

// ClientIdentityRequestRespond answers the server's certificate request
// with ids in preference order (the backend sends the first that fits; none
// sends no certificate). Only the first answer counts.
func (h *Host) ClientIdentityRequestRespond(_ context.Context, this tls.ClientIdentityRequest, ids []tls.PrivateIdentity) {
	this.(*identityRequest).r.Respond(identities(ids))
}

// ---- server ----

// NewServerConnection wraps the guest's raw streams.
func (h *Host) NewServerConnection(ctx context.Context, in tls.InputStream, out tls.OutputStream) tls.ServerConnection {
	counted := h.admitConnection(ctx, "wasi:tls/tls#[constructor]server-connection", in, out)
	c := &serverConnection{h: h}
	base := h.cfg.serverBase()
	base.TicketKeys = h.serverTicketKeys()
	t, held := h.transport(ctx, in, out)
	c.s = newServerSession(h.backend, base, t)
	c.s.counted = counted
	h.limit(ctx, &c.s.ending, held, c.fail, &c.last)
	return c
}

// serverConnection is the server-connection resource.
type serverConnection struct {
	h    *Host
	s    *serverSession
	last lastError

	mu  sync.Mutex
	in  *cleartextInput
	out *cleartextOutput
}

var _ tls.ServerConnection = (*serverConnection)(nil)

func (c *serverConnection) host() *Host { return c.h }

func (c *serverConnection) openStreams(conn backends.Conn) (*cleartextInput, *cleartextOutput) {
	in, out := openStreams(conn, &c.s.ending, c)
	c.mu.Lock()
	c.in, c.out = in, out
	c.mu.Unlock()
	return in, out
}

func (c *serverConnection) Accept(ctx context.Context) (tls.ServerHandshake, error) {
	pending := c.h.pending(ctx, "wasi:tls/tls#[method]server-connection.accept")
	if err := pending.admit(c.s); err != nil {
		c.fail("accept", err)
		return nil, err
	}
	if err := c.s.Accept(); err != nil {
		pending.forget(c.s)
		c.fail("accept", err)
		return nil, err
	}
	c.h.countPeer(ctx, "wasi:tls/tls#[method]server-connection.accept", &c.s.ending)
	return &serverHandshake{conn: c}, nil
}

// RequestClientIdentity is post-handshake client authentication.
func (c *serverConnection) RequestClientIdentity(context.Context) (tls.FuturePublicIdentity, error) {
	// The backend reads the client's answer itself when the guest is not
	// reading: the transport must block for it, so the connection's reads
	// stay on a goroutine from now on.
	c.mu.Lock()
	in := c.in
	c.mu.Unlock()
	if il, ok := in.inline(); ok {
		il.PauseInline()
	}
	f, err := c.s.RequestClientIdentityPost()
	if err != nil {
		c.fail("server-connection.request-client-identity", err)
		return nil, err
	}
	return &futurePublicIdentity{f: f, parent: c, conn: c, what: "post-handshake client authentication"}, nil
}

func (c *serverConnection) ServerName(context.Context) (string, bool) { return c.s.ServerName() }

func (c *serverConnection) ALPNID(context.Context) (tls.ALPNID, bool) {
	st, ok := c.s.State()
	if !ok || st.ALPN == "" {
		return nil, false
	}
	return []byte(st.ALPN), true
}

func (c *serverConnection) ClientIdentity(context.Context) (tls.PublicIdentity, bool) {
	return wrapChain(c.s.ClientChain())
}

func (c *serverConnection) ServerIdentity(context.Context) (tls.PrivateIdentity, bool) {
	st, _ := c.s.State()
	return wrapIdentity(st.LocalIdentity)
}

func (c *serverConnection) ProtocolVersion(context.Context) (tls.ProtocolVersion, bool) {
	st, ok := c.s.State()
	return st.Version, ok && st.Version != 0
}

func (c *serverConnection) CipherSuite(context.Context) (tls.CipherSuite, bool) {
	st, ok := c.s.State()
	return st.CipherSuite, ok && st.CipherSuite != 0
}

func (c *serverConnection) Drop() { c.s.Close() }

// serverHandshake is the server-handshake resource, a child of the
// connection.
type serverHandshake struct {
	conn *serverConnection
}

var _ tls.ServerHandshake = (*serverHandshake)(nil)

func (hs *serverHandshake) ConfigureALPNIDs(_ context.Context, ids []tls.ALPNID) error {
	return hs.conn.check("configure-alpn-ids", hs.conn.s.ConfigureALPN(ids))
}

func (hs *serverHandshake) ConfigureServerIdentities(_ context.Context, ids []tls.PrivateIdentity) error {
	return hs.conn.check("configure-server-identities", hs.conn.s.ConfigureIdentities(identities(ids)))
}

func (hs *serverHandshake) ReceiveClientHello(context.Context) (tls.FutureClientHello, error) {
	f, err := hs.conn.s.ReceiveClientHello()
	if err != nil {
		hs.conn.fail("receive-client-hello", err)
		return nil, err
	}
	return &futureClientHello{f: f, parent: hs}, nil
}

func (hs *serverHandshake) RequestClientIdentity(context.Context) (tls.FuturePublicIdentity, error) {
	f, err := hs.conn.s.RequestClientIdentity()
	if err != nil {
		hs.conn.fail("server-handshake.request-client-identity", err)
		return nil, err
	}
	return &futurePublicIdentity{f: f, parent: hs, conn: hs.conn, what: "request-client-identity"}, nil
}

func (hs *serverHandshake) ResourceParent() cabi.Resource { return hs.conn }
func (hs *serverHandshake) Drop()                         { hs.conn.s.DropHandshake() }

// ServerHandshakeFinish runs the rest of a server handshake; the future
// resolves with the cleartext streams when it completed.
func (h *Host) ServerHandshakeFinish(_ context.Context, this tls.ServerHandshake) tls.FutureStreams {
	hs := this.(*serverHandshake)
	return &futureStreams{f: hs.conn.s.Finish(), conn: hs.conn, what: "server handshake"}
}

// ServerHandshakeAbort cancels a server handshake; the pollable is ready
// once the alert is out (at once when nothing was sent yet).
func (h *Host) ServerHandshakeAbort(_ context.Context, this tls.ServerHandshake) tls.Pollable {
	hs := this.(*serverHandshake)
	return newPollable(hs.conn.s.Abort(), hs.conn)
}

// ---- shared ----

// openStreams makes the cleartext streams of a connection over e's
// transport. Dropping the output stream sends close_notify (bounded, see
// ending.closeWrite); a reader goroutine ends when the connection is
// closed.
//
// Dropping the input stream ends the read a goroutine makes for it (a read
// deadline in the past, set as the inline stream's are, through the
// backend's connection when it takes one (readDeadline), and cleared once
// the read returned: the backends' reads lose nothing to a deadline), as a
// socket's does: the
// connection lives on, for the output stream and for post-handshake
// authentication, whose reads then run on their own, and a silent peer
// would otherwise hold that goroutine until the connection closed.
//
// When the backend and the transport both allow it, the streams are
// inline: the guest's read and write calls run the backend's Read and
// Write themselves, over a transport that does not block (see
// backends.NonblockingConn and wasiio.NonblockingTransport). A goroutine
// hand-off per call would cost more than the TLS work.
func openStreams(conn backends.Conn, e *ending, parent cabi.Resource) (*cleartextInput, *cleartextOutput) {
	closeWrite := e.closeWrite(conn)
	nb, ok := e.transport.(wasiio.NonblockingTransport)
	if nc, ok2 := conn.(backends.NonblockingConn); ok && ok2 && nc.NonblockingTransport() {
		il := wasiio.NewInlineInputStream(inlineSource{conn, nb}, nil)
		il.EndReadOnDrop()
		in := &cleartextInput{Input: il, parent: parent}
		out := &cleartextOutput{OutputStream: wasiio.NewInlineOutputStream(conn, nb.Backlog(), closeWrite), parent: parent}
		return in, out
	}
	gi := wasiio.NewInputStream(conn, nil)
	gi.EndReadOnDrop(readDeadline{conn, e.transport})
	in := &cleartextInput{Input: gi, parent: parent}
	out := &cleartextOutput{OutputStream: wasiio.NewOutputStream(conn, closeWrite), parent: parent}
	return in, out
}

// inlineSource reads a connection's cleartext for an inline input stream:
// the backend reads the transport, which fails instead of blocking inside
// ReadNow, and whose read deadline bounds a blocking Read.
type inlineSource struct {
	conn      backends.Conn
	transport wasiio.NonblockingTransport
}

// Read blocks, but what the backend writes from within it does not wait
// for a peer that does not read (see wasiio.NonblockingTransport.ReadWait).
func (s inlineSource) Read(p []byte) (int, error) { return s.transport.ReadWait(s.conn, p) }

func (s inlineSource) ReadNow(p []byte) (int, error) {
	return s.transport.ReadNow(s.conn, p)
}

// SetReadDeadline sets the stream's deadline (see readDeadline).
func (s inlineSource) SetReadDeadline(t time.Time) error {
	return readDeadline{s.conn, s.transport}.SetReadDeadline(t)
}

// readDeadline sets a cleartext input stream's read deadline through the
// backend's connection when it takes one, else on the transport:
// circl-pq's cuts a read of its own short, for a Read that waits, and then
// puts back the deadline last set through it: one set on the transport
// beneath it would be lost (a dropped stream's goroutine would read on, a
// guest's poll wait past its deadline).
type readDeadline struct {
	conn      backends.Conn
	transport net.Conn
}

func (d readDeadline) SetReadDeadline(t time.Time) error {
	if c, ok := d.conn.(interface{ SetReadDeadline(time.Time) error }); ok {
		return c.SetReadDeadline(t)
	}
	return d.transport.SetReadDeadline(t)
}

// closeOutput flushes the cleartext output and sends close_notify. The
// flush waits at most the guest's send linger (runtime.Limits.SendLinger,
// --send-linger), the bound of a TCP output stream's delivery to a peer
// that does not read once the guest dropped it: past it the output is
// closed all the same, with what is still unsent, and the call fails
// saying so. The guest's own context ending ends the guest, as it does in
// a blocking-flush; the bound running out does not.
func closeOutput(ctx context.Context, out *cleartextOutput) error {
	if out == nil {
		return errNoStreams
	}
	// Most closes find the cleartext written already (a guest flushes
	// before it closes): they look once, with no bounded wait, whose
	// timer and context cost five allocations per close_notify.
	if !out.Ready() {
		bound := closeFlushBound(ctx)
		wait, cancel := context.WithTimeout(ctx, bound)
		_, err := wasiio.Wait(wait, []wasiio.Source{out.OutputStream})
		cancel()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				wasiio.Abort(ctx, cerr)
			}
			// Close is bounded (the stream's closeWrite, see
			// ending.closeWrite).
			out.Close()
			return fmt.Errorf("tlshost: close-output: the buffered cleartext was not written within %v (the peer does not read; the send linger, --send-linger); the output is closed", bound)
		}
	}
	if err := out.Flush(ctx); err != nil && !wasiio.IsClosed(err) {
		return fmt.Errorf("tlshost: close-output: %w", wasiio.Cause(err))
	}
	// Close sends close_notify through the stream's closeWrite; it is
	// idempotent, and the stream reports closed from now on.
	return out.Close()
}

// closeFlushBound is how long close-output waits for buffered cleartext
// to be written: the guest's send linger, wasiio.DefaultSendLinger for a
// call without a guest.
func closeFlushBound(ctx context.Context) time.Duration {
	if g := runtime.GuestFrom(ctx); g != nil && g.Limits().SendLinger > 0 {
		return g.Limits().SendLinger
	}
	return wasiio.DefaultSendLinger
}

// brokenConn is the transport of a connection whose streams cannot carry
// TLS: every operation fails with the reason.
type brokenConn struct{ err error }

func (c brokenConn) Read([]byte) (int, error)         { return 0, c.err }
func (c brokenConn) Write([]byte) (int, error)        { return 0, c.err }
func (c brokenConn) Close() error                     { return nil }
func (c brokenConn) LocalAddr() net.Addr              { return brokenAddr{} }
func (c brokenConn) RemoteAddr() net.Addr             { return brokenAddr{} }
func (c brokenConn) SetDeadline(time.Time) error      { return nil }
func (c brokenConn) SetReadDeadline(time.Time) error  { return nil }
func (c brokenConn) SetWriteDeadline(time.Time) error { return nil }

type brokenAddr struct{}

func (brokenAddr) Network() string { return "none" }
func (brokenAddr) String() string  { return "none" }
