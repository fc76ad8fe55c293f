package sockets

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

var (
	_ tcp.TCPSocket  = (*TCPSocket)(nil)
	_ wasiio.Awaiter = (*TCPSocket)(nil)
	_ wasiio.Starter = (*TCPSocket)(nil)
)

type tcpState uint8

const (
	stateUnbound tcpState = iota
	stateBindStarted
	stateBound
	stateListenStarted
	stateListening
	stateConnectStarted
	stateConnected
	stateClosed
)

// Defaults reported for options the guest did not set.
const (
	defaultBacklog       = 128
	maxBacklog           = 4096 // set-listen-backlog-size's largest
	defaultKeepAliveIdle = 7200 * time.Second
	defaultKeepAliveIntv = 75 * time.Second
	defaultKeepAliveCnt  = 9
	defaultHopLimit      = 64
	defaultBufferSize    = 64 << 10
)

// A TCPSocket is the wasi:sockets/tcp tcp-socket resource. Its methods are
// called from the guest's goroutine; the dial and accept goroutines only
// touch the fields guarded by mu.
type TCPSocket struct {
	stack  *Stack
	family Family

	mu      sync.Mutex
	state   tcpState
	waiters wasiio.WaitList

	bound     *boundTCP        // bound, listen-started until it listens
	local     *net.TCPAddr     // the address bound, its port resolved
	bindErr   error            // the bind's failure, for finish-bind
	ln        *net.TCPListener // listen-started once it listens, listening
	listenErr error            // the listen's failure, for finish-listen
	backlog   int
	sized     bool // the guest set the backlog (set-listen-backlog-size)

	// connect-started
	dialCancel context.CancelFunc // cancels a dial on its goroutine
	dialDone   bool
	dialConn   net.Conn
	dialErr    error
	// dialPending is the connect that waits for the guest to wait for it
	// (see StartConnect), to dialRemote from the bound socket dialBound
	// or, where a connect cannot take it (bindRaw), from its address
	// dialLocal (both nil: any); false once it started.
	dialPending bool
	dialRemote  netip.AddrPort
	dialBound   *boundTCP
	dialLocal   net.Addr
	// dialAsked: finish-connect found the deferred dial once already.
	dialAsked bool
	// connecting is a connect begun on a wait of the guest with a
	// deadline, which that wait left in progress (see Await);
	// connectBusy is set while a wait or a goroutine waits for it.
	connecting  *rawConnect
	connectBusy bool
	dialRaw     bool // dialConn came from a rawConnect

	// listening
	queue     []net.Conn
	acceptErr error
	// acceptTemp is a failure of the accept goroutine it retries after
	// (see retryAccept), for the guest's next accept to report once.
	acceptTemp error
	// over is a connection the accept goroutine accepted while the guest
	// was at its socket limit: holding its unit of the descriptor pool
	// (the one the goroutine took before accepting it) but not counted
	// against the guest's limit, not queued, held until the guest's
	// accept finds room for it (before that, accept fails with
	// new-socket-limit, as accept(2) past the descriptor limit does, and
	// the guest backs off). The accept goroutine accepts nothing more
	// meanwhile; later clients wait in the kernel's backlog, as they
	// would for a native server at its limit. One per listener, each
	// drawn from the pool as every descriptor of the guest's is.
	over  net.Conn
	space sync.Cond // signals the accept goroutine that the queue has room

	conn       *sharedConn  // connected
	closeWrite func() error // half-closes conn after what its output stream holds

	keepAlive          bool
	keepIdle, keepIntv time.Duration
	keepCnt            uint32
	hopLimit           uint8
	recvBuf, sendBuf   uint64
	dropped            bool
}

// NewTCPSocket is tcp-create-socket: an unbound socket of family, or
// new-socket-limit.
func (s *Stack) NewTCPSocket(family Family) (*TCPSocket, error) {
	if family != IPv4 && family != IPv6 {
		return nil, NotSupported
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	return s.newTCPSocket(family), nil
}

func (s *Stack) newTCPSocket(family Family) *TCPSocket {
	t := &TCPSocket{
		stack:    s,
		family:   family,
		backlog:  defaultBacklog,
		keepIdle: defaultKeepAliveIdle,
		keepIntv: defaultKeepAliveIntv,
		keepCnt:  defaultKeepAliveCnt,
		hopLimit: defaultHopLimit,
		recvBuf:  defaultBufferSize,
		sendBuf:  defaultBufferSize,
	}
	t.space.L = &t.mu
	return t
}

// checkAddr validates a socket address for this socket's family.
func (t *TCPSocket) checkAddr(ap netip.AddrPort) error {
	if !ap.Addr().IsValid() || FamilyOf(ap.Addr()) != t.family {
		return InvalidArgument
	}
	return nil
}

func (t *TCPSocket) tcpAddr(ap netip.AddrPort) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(ap)
}

// StartBind is start-bind. The bind itself happens here, so that its
// errors (address-in-use) come from finish-bind as WASI describes. On
// Linux the socket is bound, not listening (bind_linux.go): until
// start-listen, a peer's connect is refused; elsewhere it listens from
// here (bind_other.go).
func (t *TCPSocket) StartBind(ctx context.Context, nw network.Network, addr network.IPSocketAddress) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := nw.(*Network); !ok || n.stack != t.stack {
		return InvalidArgument
	}
	local := FromWIT(addr)
	if t.state != stateUnbound {
		return InvalidState
	}
	if err := t.checkAddr(local); err != nil {
		return err
	}
	if t.family == IPv6 && local.Addr().Is4In6() {
		return InvalidArgument // IPv4-mapped addresses are not supported
	}
	if local.Addr().IsMulticast() {
		return InvalidArgument
	}
	if !t.stack.canListen(local) {
		t.stack.denied(Denial{Op: DenyListen, Addr: local})
		return AccessDenied
	}
	b, err := bindTCP(t.family, local)
	t.state = stateBindStarted
	if err != nil {
		t.bindErr = err
		return nil
	}
	t.bound, t.local = b, b.addr
	return nil
}

// FinishBind is finish-bind.
func (t *TCPSocket) FinishBind(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateBindStarted {
		return NotInProgress
	}
	if t.bindErr != nil {
		err := t.bindErr
		t.bindErr = nil
		t.state = stateUnbound
		return code(err)
	}
	t.state = stateBound
	return nil
}

// StartConnect is start-connect: the policy check and a dial that starts
// when the guest waits for it. When the guest waits for the socket alone,
// without a deadline (Await: pollable.block, or poll on its pollable
// alone), the dial runs on the guest's call, as a native client dials on
// its own goroutine, and the guest wakes with the connection without a
// hand-off between goroutines; with a deadline (a Go guest's poll) it runs
// on the guest's waits, left in progress at each deadline, where the
// platform allows (see Await). Any other look starts it on a goroutine: a
// wait on more (Watch), pollable.ready (Start), or a
// second finish-connect that finds it not started (a guest that polls by
// calling finish-connect). Either way the wait ends when the dial does,
// or when the socket is dropped or the guest's instance closed.
func (t *TCPSocket) StartConnect(ctx context.Context, nw network.Network, addr network.IPSocketAddress) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := nw.(*Network); !ok || n.stack != t.stack {
		return InvalidArgument
	}
	remote := FromWIT(addr)
	switch t.state {
	case stateUnbound, stateBound:
	case stateConnectStarted:
		return ConcurrencyConflict
	default:
		return InvalidState
	}
	if err := t.checkAddr(remote); err != nil {
		return err
	}
	ip := remote.Addr()
	// See wasi:sockets/tcp start-connect: unspecified, broadcast and
	// multicast addresses, IPv4-mapped addresses on IPv6 sockets and port
	// 0 are invalid-argument.
	if ip.IsUnspecified() || ip.IsMulticast() || remote.Port() == 0 ||
		(ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})) ||
		(t.family == IPv6 && ip.Is4In6()) {
		return InvalidArgument
	}
	if !t.stack.canConnect(remote) {
		ap := netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
		t.stack.denied(Denial{Op: DenyConnect, Addr: ap, Name: t.stack.grants.withheld(ap.Addr())})
		return AccessDenied
	}
	// A bound socket connects from its address: itself where it is not
	// listening (bindRaw), else a new socket bound to its address once it
	// is closed.
	t.dialBound, t.dialLocal = nil, nil
	if b := t.bound; b != nil {
		t.bound = nil
		if bindRaw {
			t.dialBound = b
		} else {
			t.dialLocal = b.addr
			b.close()
		}
	}
	t.state = stateConnectStarted
	t.dialDone, t.dialConn, t.dialErr, t.dialAsked, t.dialRaw = false, nil, nil, false, false
	t.dialPending, t.dialRemote = true, remote
	return nil
}

// dial connects to dialRemote, until ctx ends, and records the result.
// It runs once per start-connect, on its goroutine (startDialLocked) or
// on the guest's call (Await), without t.mu, from the bound socket b
// (taken from dialBound with t.mu held) if not nil: a rawConnect of it,
// waited for until ctx ends.
func (t *TCPSocket) dial(ctx context.Context, b *boundTCP) {
	var c net.Conn
	var err error
	if b != nil {
		c, err = t.dialFrom(ctx, b)
	} else {
		d := t.stack.dialer
		d.KeepAlive = -1
		d.LocalAddr = t.dialLocal
		c, err = d.DialContext(ctx, tcpNetwork(t.family), t.dialRemote.String())
	}
	t.mu.Lock()
	if t.dropped {
		if c != nil {
			c.Close()
		}
	} else {
		t.dialDone, t.dialConn, t.dialErr, t.dialRaw = true, c, err, b != nil
	}
	t.mu.Unlock()
	t.waiters.WakeAll()
}

// dialFrom connects the bound socket b to dialRemote, until ctx ends.
func (t *TCPSocket) dialFrom(ctx context.Context, b *boundTCP) (net.Conn, error) {
	rc, err := startRawConnect(t.family, b, t.dialRemote)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: tcpNetwork(t.family), Source: b.addr, Addr: net.TCPAddrFromAddrPort(t.dialRemote), Err: err}
	}
	stop := context.AfterFunc(ctx, rc.interrupt)
	c, err, done := rc.wait(time.Time{})
	stop()
	if !done {
		rc.close()
		return nil, ctx.Err()
	}
	return c, err
}

// startDialLocked starts a deferred dial on a goroutine, cancelled when
// the socket is dropped, or waits for a connect left in progress there;
// t.mu is held.
func (t *TCPSocket) startDialLocked() {
	if c := t.connecting; c != nil && !t.connectBusy {
		t.connectBusy = true
		t.dialCancel = c.interrupt
		go t.waitConnect(context.Background(), c, time.Time{})
		return
	}
	if t.dialPending {
		t.dialPending = false
		ctx, cancel := context.WithCancel(context.Background())
		t.dialCancel = cancel
		b := t.dialBound
		t.dialBound = nil
		go t.dial(ctx, b)
	}
}

// Start implements wasiio.Starter: pollable.ready starts a deferred dial.
func (t *TCPSocket) Start() {
	t.mu.Lock()
	t.startDialLocked()
	t.mu.Unlock()
}

// Await implements wasiio.Awaiter: a wait on this socket alone, without a
// deadline, runs a deferred dial on the waiting goroutine, with ctx: the
// dial is cancelled when ctx ends (the instance is being closed). The
// socket cannot be dropped meanwhile: its guest is in this call.
//
// With a deadline (a Go guest's poll, whose timer lets the guest's Go
// timers fire) it dials on the waiting goroutine when the connect is over
// as soon as it starts (connectAtOnce), else waits for the connect there
// until the deadline, leaving it in progress then: the guest's next lone
// wait takes it up, any other look waits for it on a goroutine
// (startDialLocked). Where the connect cannot be left in progress
// (rawConnect), such a wait starts the dial on its goroutine.
func (t *TCPSocket) Await(ctx context.Context, deadline time.Time) bool {
	t.mu.Lock()
	if t.dialPending && deadline.IsZero() {
		t.dialPending = false
		b := t.dialBound
		t.dialBound = nil
		t.mu.Unlock()
		t.dial(ctx, b)
		return true
	}
	if t.dialPending && t.dialBound == nil && t.dialLocal == nil {
		conn, c, err := connectAtOnce(ctx, t.stack.dialer, t.family, t.dialRemote)
		switch {
		case c != nil:
			t.dialPending = false
			t.connecting = c
		case !errors.Is(err, errors.ErrUnsupported):
			t.dialPending = false
			t.dialDone, t.dialConn, t.dialErr = true, conn, err
			t.mu.Unlock()
			t.waiters.WakeAll()
			return true
		}
	}
	if t.dialPending {
		c, err := startRawConnect(t.family, t.dialBound, t.dialRemote)
		if !errors.Is(err, errors.ErrUnsupported) {
			t.dialBound = nil // taken (there is none where unsupported)
		}
		switch {
		case errors.Is(err, errors.ErrUnsupported):
		case err != nil:
			t.dialPending = false
			t.dialDone, t.dialErr = true, err
			t.mu.Unlock()
			t.waiters.WakeAll()
			return true
		default:
			t.dialPending = false
			t.connecting = c
		}
	}
	c := t.connecting
	if c == nil || t.connectBusy {
		t.startDialLocked()
		t.mu.Unlock()
		return false
	}
	t.connectBusy = true
	t.mu.Unlock()
	t.waitConnect(ctx, c, deadline)
	return true
}

// waitConnect waits for the connect left in progress until deadline (zero:
// none) or until ctx ends, and records its result if it is over. It runs
// on a guest's wait (Await) or on its goroutine (startDialLocked), one at
// a time (connectBusy), without t.mu.
func (t *TCPSocket) waitConnect(ctx context.Context, c *rawConnect, deadline time.Time) {
	stop := context.AfterFunc(ctx, c.interrupt)
	conn, err, done := c.wait(deadline)
	stop()
	t.mu.Lock()
	t.connectBusy = false
	switch {
	case t.dropped:
		t.connecting = nil
		if conn != nil {
			conn.Close()
		}
		if !done {
			c.close()
		}
	case done:
		t.connecting = nil
		t.dialDone, t.dialConn, t.dialErr, t.dialRaw = true, conn, err, true
	}
	t.mu.Unlock()
	if done {
		t.waiters.WakeAll()
	}
}

// FinishConnect is finish-connect: it returns the connection's streams.
func (t *TCPSocket) FinishConnect(ctx context.Context) (cabi.Tuple2[streams.InputStream, streams.OutputStream], error) {
	var none cabi.Tuple2[streams.InputStream, streams.OutputStream]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateConnectStarted {
		return none, NotInProgress
	}
	if !t.dialDone {
		if t.dialPending || t.connecting != nil {
			// Asked twice without a wait in between: the guest polls by
			// calling finish-connect.
			if t.dialAsked {
				t.startDialLocked()
			}
			t.dialAsked = true
		}
		return none, WouldBlock
	}
	if t.dialCancel != nil {
		t.dialCancel()
	}
	if t.dialErr != nil {
		t.state = stateClosed
		return none, code(t.dialErr)
	}
	c := t.dialConn
	t.dialConn = nil
	if t.dialRaw {
		t.applyRawOptions(c)
	} else {
		t.applyNewOptions(c)
	}
	t.state = stateConnected
	in, out := t.streams(c)
	return cabi.Tuple2[streams.InputStream, streams.OutputStream]{F0: in, F1: out}, nil
}

// streams makes the connection shared by the socket and two streams; t.mu
// is held. The output stream may hold bytes the socket has not taken yet,
// so a shutdown of the send side goes through it.
func (t *TCPSocket) streams(c net.Conn) (wasiio.Input, *wasiio.OutputStream) {
	t.conn = newSharedConn(c, 3, t.stack)
	in, out, closeWrite := wasiio.SocketStreamsBudget(t.conn, &t.conn.in, t.conn.out.Close, t.stack.sendLinger, t.stack.unsentBudget())
	t.closeWrite = closeWrite
	return in, out
}

// StartListen is start-listen.
func (t *TCPSocket) StartListen(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state {
	case stateBound:
	case stateUnbound:
		// WASI lets an implementation bind implicitly here; this host
		// requires an explicit, policy-checked bind.
		return InvalidState
	case stateListenStarted:
		return ConcurrencyConflict
	default:
		return InvalidState
	}
	// listen(2) with the guest's backlog, here so that its errors come
	// from finish-listen. The kernel queues the handshakes it completes
	// from now on, up to that backlog, whatever the host's accept queue
	// holds. A guest that never sized it gets the largest, as Go's
	// net.Listen asks for (the kernel caps it at its own maximum): a Go
	// guest's server (guest/net sizes none) meets a burst of clients as
	// a native one does, not with 128 and then dropped handshakes. The
	// host's accept queue keeps defaultBacklog.
	kernel := t.backlog
	if !t.sized {
		kernel = maxBacklog
	}
	ln, listened, err := t.bound.listen(kernel)
	if listened {
		t.bound = nil
	}
	t.ln, t.listenErr = ln, err
	t.state = stateListenStarted
	return nil
}

// FinishListen is finish-listen: the listen's error, or listening with
// the accept goroutine started.
func (t *TCPSocket) FinishListen(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateListenStarted {
		return NotInProgress
	}
	if err := t.listenErr; err != nil {
		t.listenErr = nil
		if t.bound != nil {
			t.state = stateBound // listen(2) failed: still bound
		} else {
			t.state = stateClosed
		}
		return code(err)
	}
	t.state = stateListening
	go t.acceptLoop(t.ln)
	return nil
}

// acceptLoop accepts the listener's connections for the guest. Before
// each accept it takes a unit of the guest's descriptor pool for the
// connection to come (slot), so that no descriptor the host accepts is
// outside the pool: a listener waiting for a connection holds two units,
// its own and its next connection's. With the pool spent, it accepts
// nothing, the clients waiting in the kernel's backlog, and tries again
// after a backoff, as when the process is out of descriptors
// (retryAccept): the guest's next accept fails with new-socket-limit.
func (t *TCPSocket) acceptLoop(ln *net.TCPListener) {
	var backoff time.Duration
	slot := false
	defer func() {
		if slot {
			t.stack.socketShare.Put()
		}
	}()
	for {
		if !slot {
			if !t.stack.socketShare.Take() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				if !t.acceptLater(errPoolSpent, backoff, true) {
					return
				}
				continue
			}
			slot = true
		}
		c, err := ln.Accept()
		if err != nil {
			if d, report, retry := retryAccept(err, backoff); retry {
				if report {
					backoff = d
				}
				if !t.acceptLater(err, d, report) {
					return
				}
				continue
			}
		}
		backoff = 0
		t.mu.Lock()
		if err != nil {
			if !t.dropped && t.acceptErr == nil {
				t.acceptErr = err
			}
			t.mu.Unlock()
			t.waiters.WakeAll()
			return
		}
		if t.dropped {
			t.mu.Unlock()
			c.Close()
			return
		}
		// A queued connection is a socket of the guest's, counted from
		// here, its pool unit the slot; past the limit it waits as
		// t.over instead, holding the slot alone. That refuses no call
		// of the guest's: its accept, refused while the limit holds,
		// reports the cap (capreport).
		if t.stack.tryAcquireOwn() {
			t.queue = append(t.queue, c)
		} else {
			t.over = c
		}
		slot = false
		t.mu.Unlock()
		t.waiters.WakeAll()
		t.mu.Lock()
		for (len(t.queue) >= t.backlog || t.over != nil) && !t.dropped {
			t.space.Wait()
		}
		t.mu.Unlock()
	}
}

// retryAccept reports whether the accept goroutine tries again after the
// accept error err, after how long (prev: the last wait, zero after a
// success), and whether the guest's next accept reports err. Out of
// descriptors or memory (the process's, which other guests share), it
// waits 5 ms, doubling to 1 s, as net/http's server does, the connection
// waiting in the kernel's backlog meanwhile. The network errors Linux
// passes from a pending connection (accept(2)) end that connection, not
// the listener: it tries again after 1 ms, unreported. Before, the
// goroutine ended at any error, and the listener with it: every later
// accept failed, however long the guest backed off.
func retryAccept(err error, prev time.Duration) (wait time.Duration, report, retry bool) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return 0, false, false
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return min(max(2*prev, 5*time.Millisecond), time.Second), true, true
	case syscall.ENETDOWN, syscall.EPROTO, syscall.ENOPROTOOPT, syscall.EHOSTDOWN,
		syscall.EHOSTUNREACH, syscall.EOPNOTSUPP, syscall.ENETUNREACH, syscall.ECONNABORTED:
		return time.Millisecond, false, true
	}
	return 0, false, false
}

// acceptLater notes err for the guest's next accept when report is set
// (new-socket-limit, out-of-memory), and waits d before the accept
// goroutine tries again. It reports false when the socket was dropped.
func (t *TCPSocket) acceptLater(err error, d time.Duration, report bool) bool {
	t.mu.Lock()
	wake := report && t.acceptTemp == nil && !t.dropped
	if wake {
		t.acceptTemp = err
	}
	t.mu.Unlock()
	if wake {
		t.waiters.WakeAll()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	over := false
	timer := time.AfterFunc(d, func() {
		t.mu.Lock()
		over = true
		t.space.Broadcast()
		t.mu.Unlock()
	})
	for !over && !t.dropped {
		t.space.Wait()
	}
	timer.Stop()
	return !t.dropped
}

// Accept is accept: a connected socket and its streams, or would-block.
func (t *TCPSocket) Accept(ctx context.Context) (cabi.Tuple3[tcp.TCPSocket, streams.InputStream, streams.OutputStream], error) {
	var none cabi.Tuple3[tcp.TCPSocket, streams.InputStream, streams.OutputStream]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateListening {
		return none, InvalidState
	}
	var c net.Conn
	switch {
	case len(t.queue) > 0:
		c = t.queue[0] // counted since the accept goroutine queued it
		t.queue[0] = nil
		t.queue = t.queue[1:]
	case t.over != nil:
		// Its pool unit taken by the accept goroutine: only the
		// guest's own limit is left to count it against.
		if !t.stack.tryAcquireOwn() {
			t.stack.caps.Refused(capreport.Sockets, t.stack.limit)
			return none, NewSocketLimit
		}
		c, t.over = t.over, nil
	case t.acceptTemp != nil:
		err := t.acceptTemp
		t.acceptTemp = nil
		if err == errPoolSpent {
			t.stack.caps.Refused(capreport.SocketPool, t.stack.socketShare.Limit())
			return none, NewSocketLimit
		}
		return none, code(err)
	case t.acceptErr != nil:
		return none, code(t.acceptErr)
	default:
		return none, WouldBlock
	}
	t.space.Signal()
	// The accepted socket inherits the listener's options.
	a := t.stack.newTCPSocket(t.family)
	a.keepAlive, a.keepIdle, a.keepIntv, a.keepCnt = t.keepAlive, t.keepIdle, t.keepIntv, t.keepCnt
	a.hopLimit, a.recvBuf, a.sendBuf = t.hopLimit, t.recvBuf, t.sendBuf
	if fileListener {
		a.applyRawOptions(c)
	} else {
		a.applyNewOptions(c)
	}
	a.state = stateConnected
	in, out := a.streams(c)
	return cabi.Tuple3[tcp.TCPSocket, streams.InputStream, streams.OutputStream]{F0: a, F1: in, F2: out}, nil
}

// LocalAddress is local-address.
func (t *TCPSocket) LocalAddress(ctx context.Context) (network.IPSocketAddress, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.conn != nil && t.state == stateConnected:
		return ToWIT(addrPort(t.conn.LocalAddr())), nil
	case t.local != nil && (t.state == stateBound || t.state == stateListenStarted || t.state == stateListening):
		return ToWIT(addrPort(t.local)), nil
	}
	return network.IPSocketAddress{}, InvalidState
}

// RemoteAddress is remote-address.
func (t *TCPSocket) RemoteAddress(ctx context.Context) (network.IPSocketAddress, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil || t.state != stateConnected {
		return network.IPSocketAddress{}, InvalidState
	}
	return ToWIT(addrPort(t.conn.RemoteAddr())), nil
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// IsListening is is-listening.
func (t *TCPSocket) IsListening(ctx context.Context) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state == stateListening
}

// AddressFamily is address-family.
func (t *TCPSocket) AddressFamily(ctx context.Context) network.IPAddressFamily { return t.family }

// SetListenBacklogSize is set-listen-backlog-size: the backlog listen(2)
// is given at start-listen (at most 4,096; the kernel bounds it further
// by its own maximum, net.core.somaxconn on Linux), and the bound of the
// host's accept queue. Set while listening, it calls listen(2) again,
// which changes the kernel's backlog on Linux (elsewhere, whose
// listeners listen from start-bind, the kernel's backlog is the
// system's).
func (t *TCPSocket) SetListenBacklogSize(ctx context.Context, v uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v == 0 {
		return InvalidArgument
	}
	if t.state == stateConnected || t.state == stateConnectStarted || t.state == stateClosed {
		return InvalidState
	}
	t.backlog, t.sized = int(min(v, maxBacklog)), true
	if t.ln != nil {
		relisten(t.ln, t.backlog)
	}
	t.space.Broadcast()
	return nil
}

// Shutdown is shutdown.
func (t *TCPSocket) Shutdown(ctx context.Context, how tcp.ShutdownType) error {
	t.mu.Lock()
	c, closeWrite := t.conn, t.closeWrite
	connected := t.state == stateConnected
	t.mu.Unlock()
	if !connected || c == nil {
		return InvalidState
	}
	var err error
	if how == tcp.ShutdownTypeReceive || how == tcp.ShutdownTypeBoth {
		err = c.CloseRead()
	}
	if how == tcp.ShutdownTypeSend || how == tcp.ShutdownTypeBoth {
		if e := closeWrite(); err == nil {
			err = e
		}
	}
	if err != nil {
		return code(err)
	}
	return nil
}

// Ready implements wasiio.Source: a finish or accept would not block.
func (t *TCPSocket) Ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state {
	case stateConnectStarted:
		return t.dialDone
	case stateListening:
		return len(t.queue) > 0 || t.over != nil || t.acceptTemp != nil || t.acceptErr != nil
	}
	return true
}

// Watch implements wasiio.Source. A wait on more than this socket starts
// a deferred dial on a goroutine.
func (t *TCPSocket) Watch(w *wasiio.Waker) {
	t.Start()
	t.waiters.Add(w)
}

// Unwatch implements wasiio.Source.
func (t *TCPSocket) Unwatch(w *wasiio.Waker) { t.waiters.Remove(w) }

// Subscribe is subscribe: a pollable, child of the socket.
func (t *TCPSocket) Subscribe(ctx context.Context) poll.Pollable { return wasiio.NewPollable(t, t) }

// Drop implements cabi.Resource.
func (t *TCPSocket) Drop() { t.Close() }

// Close drops the socket: a dial is cancelled, a listener and every queued
// connection closed, and the socket's reference on its connection released.
func (t *TCPSocket) Close() error {
	t.mu.Lock()
	if t.dropped {
		t.mu.Unlock()
		return nil
	}
	t.dropped = true
	t.dialPending = false
	if t.dialCancel != nil {
		t.dialCancel()
	}
	if c := t.connecting; c != nil {
		if t.connectBusy {
			c.interrupt() // its waitConnect closes it
		} else {
			c.close()
			t.connecting = nil
		}
	}
	if t.dialConn != nil {
		t.dialConn.Close()
		t.dialConn = nil
	}
	ln, b, db := t.ln, t.bound, t.dialBound
	t.ln, t.bound, t.dialBound = nil, nil, nil
	queue, over := t.queue, t.over
	t.queue, t.over = nil, nil
	conn := t.conn
	t.space.Broadcast()
	t.mu.Unlock()
	t.waiters.WakeAll()
	if ln != nil {
		ln.Close()
	}
	if b != nil {
		b.close()
	}
	if db != nil {
		db.close()
	}
	for _, c := range queue {
		c.Close()
		t.stack.releaseSocket()
	}
	if over != nil {
		over.Close()
		t.stack.socketShare.Put() // its pool unit alone: never counted against the limit
	}
	if conn != nil {
		return conn.release() // the connection's close releases the count
	}
	t.stack.releaseSocket()
	return nil
}

// The options. Setters validate as wasi:sockets/tcp says (zero is
// invalid-argument) and apply to the connection when there is one;
// otherwise the value is kept and applied on connect or accept.

// applyOptions applies the socket's options to c: keep-alive, on or off
// with its settings, and the hop limit and buffer sizes that differ from
// the defaults.
func (t *TCPSocket) applyOptions(c net.Conn) { t.apply(c, true) }

// applyNewOptions is applyOptions for a connection just dialed or
// accepted, whose keep-alive is the system's (off: the dialer and the
// listener leave it alone). Keep-alive off needs no system call then;
// its idle time, interval and count matter only once it is on, and
// turning it on applies them all.
func (t *TCPSocket) applyNewOptions(c net.Conn) { t.apply(c, t.keepAlive) }

// applyRawOptions is applyOptions for a connection of a rawConnect, which
// net.FileConn gave keep-alive on with net's settings, or one a listener
// of net.FileListener accepted (bind_linux.go), which it gave the same.
// Off, as the guest has it unless it asked otherwise, is one system call
// (SO_KEEPALIVE) rather than four: net's idle time, interval and count
// stay on the socket, inert while keep-alive is off, and turning it on
// applies the guest's (setKeepAlive); the guest reads its own settings
// from t.
func (t *TCPSocket) applyRawOptions(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok && !t.keepAlive {
		tc.SetKeepAlive(false)
	}
	t.apply(c, t.keepAlive)
}

func (t *TCPSocket) apply(c net.Conn, keepAlive bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if keepAlive {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{
			Enable: t.keepAlive, Idle: t.keepIdle, Interval: t.keepIntv, Count: int(t.keepCnt),
		})
	}
	// Options set before the connection existed take effect now; the
	// defaults are left to the system.
	if t.hopLimit != defaultHopLimit {
		setHopLimit(tc, t.family, t.hopLimit)
	}
	if t.recvBuf != defaultBufferSize {
		tc.SetReadBuffer(int(t.recvBuf))
	}
	if t.sendBuf != defaultBufferSize {
		tc.SetWriteBuffer(int(t.sendBuf))
	}
}

func (t *TCPSocket) tcpConn() *net.TCPConn {
	if t.conn == nil {
		return nil
	}
	tc, _ := t.conn.Conn.(*net.TCPConn)
	return tc
}

// KeepAliveEnabled is keep-alive-enabled.
func (t *TCPSocket) KeepAliveEnabled(ctx context.Context) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keepAlive, nil
}

// SetKeepAliveEnabled is set-keep-alive-enabled.
func (t *TCPSocket) SetKeepAliveEnabled(ctx context.Context, v bool) error {
	return t.setKeepAlive(func() { t.keepAlive = v })
}

// KeepAliveIdleTime is keep-alive-idle-time.
func (t *TCPSocket) KeepAliveIdleTime(ctx context.Context) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return uint64(t.keepIdle), nil
}

// SetKeepAliveIdleTime is set-keep-alive-idle-time.
func (t *TCPSocket) SetKeepAliveIdleTime(ctx context.Context, v uint64) error {
	d, err := keepAliveDuration(v)
	if err != nil {
		return err
	}
	return t.setKeepAlive(func() { t.keepIdle = d })
}

// KeepAliveInterval is keep-alive-interval.
func (t *TCPSocket) KeepAliveInterval(ctx context.Context) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return uint64(t.keepIntv), nil
}

// SetKeepAliveInterval is set-keep-alive-interval.
func (t *TCPSocket) SetKeepAliveInterval(ctx context.Context, v uint64) error {
	d, err := keepAliveDuration(v)
	if err != nil {
		return err
	}
	return t.setKeepAlive(func() { t.keepIntv = d })
}

// keepAliveDuration reads a keep-alive time in nanoseconds: at least a
// second, in whole seconds, as the kernel takes it.
func keepAliveDuration(v uint64) (time.Duration, error) {
	d := time.Duration(min(v, uint64(math.MaxInt64)))
	if d <= 0 {
		return 0, InvalidArgument
	}
	return max(d.Truncate(time.Second), time.Second), nil
}

// KeepAliveCount is keep-alive-count.
func (t *TCPSocket) KeepAliveCount(ctx context.Context) (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keepCnt, nil
}

// SetKeepAliveCount is set-keep-alive-count.
func (t *TCPSocket) SetKeepAliveCount(ctx context.Context, n uint32) error {
	if n == 0 {
		return InvalidArgument
	}
	n = min(n, 127)
	return t.setKeepAlive(func() { t.keepCnt = n })
}

func (t *TCPSocket) setKeepAlive(set func()) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	set()
	if tc := t.tcpConn(); tc != nil {
		t.applyOptions(tc)
	}
	return nil
}

// HopLimit is hop-limit.
func (t *TCPSocket) HopLimit(ctx context.Context) (uint8, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hopLimit, nil
}

// SetHopLimit is set-hop-limit.
func (t *TCPSocket) SetHopLimit(ctx context.Context, v uint8) error {
	if v == 0 {
		return InvalidArgument
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hopLimit = v
	if tc := t.tcpConn(); tc != nil {
		if err := setHopLimit(tc, t.family, v); err != nil {
			return code(err)
		}
	}
	return nil
}

// setHopLimit sets the unicast hop limit of a TCP or UDP socket.
func setHopLimit(c syscall.Conn, family Family, v uint8) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setHopLimitFD(fd, family, v) }); err != nil {
		return err
	}
	return serr
}

// ReceiveBufferSize is receive-buffer-size.
func (t *TCPSocket) ReceiveBufferSize(ctx context.Context) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.recvBuf, nil
}

// SetReceiveBufferSize is set-receive-buffer-size.
func (t *TCPSocket) SetReceiveBufferSize(ctx context.Context, v uint64) error {
	if v == 0 {
		return InvalidArgument
	}
	v = min(v, 1<<30)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recvBuf = v
	if tc := t.tcpConn(); tc != nil {
		tc.SetReadBuffer(int(v))
	}
	return nil
}

// SendBufferSize is send-buffer-size.
func (t *TCPSocket) SendBufferSize(ctx context.Context) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sendBuf, nil
}

// SetSendBufferSize is set-send-buffer-size.
func (t *TCPSocket) SetSendBufferSize(ctx context.Context, v uint64) error {
	if v == 0 {
		return InvalidArgument
	}
	v = min(v, 1<<30)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sendBuf = v
	if tc := t.tcpConn(); tc != nil {
		tc.SetWriteBuffer(int(v))
	}
	return nil
}
