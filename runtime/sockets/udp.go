package sockets

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

var (
	_ udp.UDPSocket              = (*UDPSocket)(nil)
	_ udp.IncomingDatagramStream = (*IncomingDatagramStream)(nil)
	_ udp.OutgoingDatagramStream = (*OutgoingDatagramStream)(nil)
)

// UDP limits per guest instance.
const (
	// DefaultMaxDatagram is the largest datagram a guest sends or
	// receives unless SetUDPLimits says otherwise: the largest UDP payload
	// over IPv4.
	DefaultMaxDatagram = 65507
	// DefaultDatagramQueue is how many received datagrams one socket
	// holds for the guest unless SetUDPLimits says otherwise; beyond it
	// the host stops reading the socket and the kernel's buffer fills.
	DefaultDatagramQueue = 64

	// DefaultDatagramBytes is how many bytes of received datagrams all
	// the UDP sockets of a guest instance hold together unless
	// SetDatagramBytes says otherwise: without a bound for them together,
	// the socket limit times the queue times the datagram size (4,096 ×
	// 64 × 64 KiB: 16 GiB) was the only one.
	DefaultDatagramBytes = 16 << 20

	// sendPermits is what check-send grants while the socket is
	// writable. send never waits: it stops at a datagram the socket's
	// buffer has no room for.
	sendPermits = 64
)

// SetUDPLimits sets the largest datagram a guest sends or receives
// (larger sends fail with datagram-too-large, larger arrivals are
// dropped) and how many received datagrams each socket holds (n > 0).
func (s *Stack) SetUDPLimits(maxDatagram, queue int) {
	s.maxDatagram, s.datagramQueue = maxDatagram, queue
}

// SetDatagramBytes sets how many bytes of received datagrams the
// instance's UDP sockets hold together, queued for the guest (n > 0). A
// datagram arriving past it is dropped, as one arriving to a full system
// buffer would be.
func (s *Stack) SetDatagramBytes(n int) { s.datagramBytes = int64(n) }

// takeQueued counts n more bytes of queued datagrams, or reports that the
// instance holds its most. The read loops of the instance's sockets take
// at once; the count never passes the limit, not even for a moment, so a
// datagram that fits is never dropped for one that did not.
func (s *Stack) takeQueued(n int) bool {
	limit := s.datagramBytes
	if limit <= 0 {
		limit = DefaultDatagramBytes
	}
	for {
		was := s.queued.Load()
		if was+int64(n) > limit {
			s.caps.Refused(capreport.DatagramBytes, limit)
			return false
		}
		if s.queued.CompareAndSwap(was, was+int64(n)) {
			return true
		}
	}
}

// releaseQueued gives back the bytes of datagrams leaving a queue.
func (s *Stack) releaseQueued(ds []datagram) {
	n := 0
	for _, d := range ds {
		n += len(d.data)
	}
	s.queued.Add(-int64(n))
}

// QueuedDatagramBytes reports how many bytes of received datagrams the
// instance's sockets hold.
func (s *Stack) QueuedDatagramBytes() int { return int(s.queued.Load()) }

func udpNetwork(f Family) string {
	if f == IPv4 {
		return "udp4"
	}
	return "udp6"
}

type datagram struct {
	data []byte
	from netip.AddrPort
}

// A UDPSocket is the wasi:sockets/udp udp-socket resource. The socket and
// the streams of its latest stream call share its connection, which closes
// when the last of them is dropped. A goroutine reads the bound socket into
// a bounded queue, dropping datagrams from peers the policy does not allow
// (and, once connected, from anyone but the remote address).
type UDPSocket struct {
	stack  *Stack
	family Family

	mu       sync.Mutex
	state    tcpState // unbound, bind-started or bound
	bindErr  error
	conn     *net.UDPConn
	refs     int // the socket and its live streams
	remote   netip.AddrPort
	gen      int // stream generation: only the latest pair works
	queue    []datagram
	readErr  error
	space    sync.Cond
	arrivals wasiio.WaitList
	dropped  bool
	closed   bool

	hopLimit         uint8
	recvBuf, sendBuf uint64

	// send is whether the outgoing stream may send: not after a send
	// found the socket's buffer full, until the socket is writable.
	send sendReady
	// sendAddr, when set, makes the destinations of sends (tests: nil,
	// on a connected socket of another kind whose buffer fills).
	sendAddr func(netip.AddrPort) syscall.Sockaddr
}

// NewUDPSocket is udp-create-socket: an unbound socket of family, or
// new-socket-limit. UDP sockets count toward the socket limit.
func (s *Stack) NewUDPSocket(family Family) (*UDPSocket, error) {
	if family != IPv4 && family != IPv6 {
		return nil, NotSupported
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	u := &UDPSocket{stack: s, family: family, refs: 1, hopLimit: defaultHopLimit,
		recvBuf: defaultBufferSize, sendBuf: defaultBufferSize}
	u.space.L = &u.mu
	return u, nil
}

func (s *Stack) maxDatagramSize() int {
	if s.maxDatagram > 0 {
		return s.maxDatagram
	}
	return DefaultMaxDatagram
}

func (s *Stack) queueSize() int {
	if s.datagramQueue > 0 {
		return s.datagramQueue
	}
	return DefaultDatagramQueue
}

// checkRemote validates a peer address: family, no wildcard address, no
// port 0, and the policy.
func (u *UDPSocket) checkRemote(ap netip.AddrPort) error {
	if !ap.Addr().IsValid() || FamilyOf(ap.Addr()) != u.family || ap.Addr().IsUnspecified() || ap.Port() == 0 {
		return InvalidArgument
	}
	if u.family == IPv6 && ap.Addr().Is4In6() {
		return InvalidArgument
	}
	if peer := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()); !u.stack.policy.CanUDP(peer) {
		u.stack.denied(Denial{Op: DenyUDP, Addr: peer})
		return AccessDenied
	}
	return nil
}

// noBroadcast is the Control of a guest's UDP socket: it turns off the
// SO_BROADCAST that Go turns on for every UDP socket, as a native
// program's socket has it unless it asks. With it on, a datagram to a
// broadcast address a UDP rule allows (255.255.255.255, or the last
// address of a network, which a range such as 192.168.1.128/25 holds)
// reached every host of the network, the ones no rule allows with them.
// Off, such a send fails with access-denied.
func noBroadcast(network, address string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = noBroadcastFD(fd) }); err != nil {
		return err
	}
	return serr
}

// StartBind is start-bind: port 0 needs a UDP rule, a fixed port a listen
// rule. The bind happens here; its errors come from finish-bind.
func (u *UDPSocket) StartBind(ctx context.Context, nw network.Network, addr network.IPSocketAddress) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if n, ok := nw.(*Network); !ok || n.stack != u.stack {
		return InvalidArgument
	}
	if u.state != stateUnbound {
		return InvalidState
	}
	local := FromWIT(addr)
	if !local.Addr().IsValid() || FamilyOf(local.Addr()) != u.family || local.Addr().IsMulticast() ||
		u.family == IPv6 && local.Addr().Is4In6() {
		return InvalidArgument
	}
	switch {
	case local.Port() == 0 && !u.stack.policy.HasUDP():
		u.stack.denied(Denial{Op: DenyUDPBind, Addr: local})
		return AccessDenied
	case local.Port() != 0 && !u.stack.canListen(local):
		u.stack.denied(Denial{Op: DenyListen, Addr: local})
		return AccessDenied
	}
	u.state = stateBindStarted
	lc := net.ListenConfig{Control: noBroadcast}
	pc, err := lc.ListenPacket(context.Background(), udpNetwork(u.family), local.String())
	if err != nil {
		u.bindErr = err
		return nil
	}
	c := pc.(*net.UDPConn)
	if err := u.applyOptions(c); err != nil {
		c.Close()
		u.bindErr = err
		return nil
	}
	u.conn = c
	return nil
}

// applyOptions gives the socket just bound the options set before it
// existed; the defaults are left to the system.
func (u *UDPSocket) applyOptions(c *net.UDPConn) error {
	if u.hopLimit != defaultHopLimit {
		if err := setHopLimit(c, u.family, u.hopLimit); err != nil {
			return err
		}
	}
	if u.recvBuf != defaultBufferSize {
		if err := c.SetReadBuffer(int(u.recvBuf)); err != nil {
			return err
		}
	}
	if u.sendBuf != defaultBufferSize {
		if err := c.SetWriteBuffer(int(u.sendBuf)); err != nil {
			return err
		}
	}
	return nil
}

// FinishBind is finish-bind; on success the socket starts reading.
func (u *UDPSocket) FinishBind(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state != stateBindStarted {
		return NotInProgress
	}
	if u.bindErr != nil {
		err := u.bindErr
		u.bindErr = nil
		u.state = stateUnbound
		return code(err)
	}
	raw, err := u.conn.SyscallConn()
	if err != nil {
		u.conn.Close()
		u.conn = nil
		u.state = stateUnbound
		return code(err)
	}
	u.send.init(raw, u.conn)
	u.state = stateBound
	go u.readLoop(u.conn, u.stack.maxDatagramSize(), u.stack.queueSize())
	return nil
}

// readLoop queues the datagrams the guest may see until the connection
// closes. It waits for a datagram without a buffer (awaitDatagram), and
// for room in the queue before it reads one, so that a socket holds a
// buffer of the largest datagram only while it reads one (its queue
// holds copies of the datagrams' size): a guest's sockets that receive
// nothing, or whose queues are full, hold none. Where a socket cannot be
// waited on without a read (neither unix nor Windows), the read waits
// with the buffer.
func (u *UDPSocket) readLoop(c *net.UDPConn, max, queue int) {
	rc, rcErr := c.SyscallConn()
	for {
		var err error
		if rcErr == nil {
			err = awaitDatagram(rc)
		}
		u.mu.Lock()
		if err == nil {
			if len(u.queue) >= queue {
				u.stack.caps.Refused(capreport.DatagramQueue, queue)
			}
			for len(u.queue) >= queue && !u.closed {
				u.space.Wait()
			}
			if u.closed {
				u.mu.Unlock()
				return
			}
		}
		u.mu.Unlock()
		var n int
		var from netip.AddrPort
		buf := datagramBuffer(max + 1)
		if err == nil {
			n, from, err = c.ReadFromUDPAddrPort(*buf)
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			if err != nil && datagramTooLarge(err) {
				// Windows fails the read of a datagram over the buffer;
				// before, that ended the socket's reading for good: one
				// datagram from anyone silenced it.
				n, err = max+1, nil
			}
		}
		u.mu.Lock()
		if err != nil {
			putDatagramBuffer(buf)
			if !u.closed {
				u.readErr = err
			}
			u.mu.Unlock()
			u.arrivals.WakeAll()
			return
		}
		if n > max {
			u.stack.caps.Refused(capreport.Datagram, max)
		}
		if n > max || !u.stack.policy.CanUDP(from) || u.remote.IsValid() && from != u.unmapped(u.remote) ||
			u.closed || !u.stack.takeQueued(n) {
			// Dropped: too large, not allowed, or the guest's sockets
			// hold their most.
			closed := u.closed
			u.mu.Unlock()
			putDatagramBuffer(buf)
			if closed {
				return
			}
			continue
		}
		u.queue = append(u.queue, datagram{data: append([]byte(nil), (*buf)[:n]...), from: from})
		u.mu.Unlock()
		putDatagramBuffer(buf)
		u.arrivals.WakeAll()
	}
}

// datagramBufs are the buffers UDP sockets read datagrams into, lent for
// one read each.
var datagramBufs = sync.Pool{New: func() any { b := make([]byte, 1<<16); return &b }}

// datagramBuffer returns a buffer of n bytes, for putDatagramBuffer.
func datagramBuffer(n int) *[]byte {
	if n > 1<<16 {
		b := make([]byte, n) // a datagram limit past UDP's own
		return &b
	}
	b := datagramBufs.Get().(*[]byte)
	*b = (*b)[:n]
	return b
}

func putDatagramBuffer(b *[]byte) {
	if cap(*b) == 1<<16 {
		*b = (*b)[:cap(*b)]
		datagramBufs.Put(b)
	}
}

func (u *UDPSocket) unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Stream is stream: a new pair of datagram streams, limited to remote when
// given. The previous pair stops working.
func (u *UDPSocket) Stream(ctx context.Context, remote cabi.Option[network.IPSocketAddress]) (cabi.Tuple2[udp.IncomingDatagramStream, udp.OutgoingDatagramStream], error) {
	var none cabi.Tuple2[udp.IncomingDatagramStream, udp.OutgoingDatagramStream]
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state != stateBound || u.closed {
		return none, InvalidState
	}
	var peer netip.AddrPort
	if r, ok := remote.Get(); ok {
		peer = FromWIT(r)
		if err := u.checkRemote(peer); err != nil {
			return none, err
		}
	}
	u.remote = peer
	u.gen++
	if peer.IsValid() {
		kept := u.queue[:0]
		for _, d := range u.queue {
			if d.from == u.unmapped(peer) {
				kept = append(kept, d)
			} else {
				u.stack.releaseQueued([]datagram{d})
			}
		}
		clear(u.queue[len(kept):])
		u.queue = kept
		u.space.Broadcast()
	}
	u.refs += 2
	return cabi.Tuple2[udp.IncomingDatagramStream, udp.OutgoingDatagramStream]{
		F0: &IncomingDatagramStream{u: u, gen: u.gen},
		F1: &OutgoingDatagramStream{u: u, gen: u.gen},
	}, nil
}

// LocalAddress is local-address.
func (u *UDPSocket) LocalAddress(ctx context.Context) (network.IPSocketAddress, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state != stateBound {
		return network.IPSocketAddress{}, InvalidState
	}
	return ToWIT(u.conn.LocalAddr().(*net.UDPAddr).AddrPort()), nil
}

// RemoteAddress is remote-address.
func (u *UDPSocket) RemoteAddress(ctx context.Context) (network.IPSocketAddress, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.remote.IsValid() {
		return network.IPSocketAddress{}, InvalidState
	}
	return ToWIT(u.remote), nil
}

// AddressFamily is address-family.
func (u *UDPSocket) AddressFamily(ctx context.Context) network.IPAddressFamily { return u.family }

// UnicastHopLimit is unicast-hop-limit.
func (u *UDPSocket) UnicastHopLimit(ctx context.Context) (uint8, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hopLimit, nil
}

// SetUnicastHopLimit is set-unicast-hop-limit: IP_TTL or
// IPV6_UNICAST_HOPS on the host socket, now if it is bound, else when it
// binds.
func (u *UDPSocket) SetUnicastHopLimit(ctx context.Context, v uint8) error {
	if v == 0 {
		return InvalidArgument
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil {
		if err := setHopLimit(u.conn, u.family, v); err != nil {
			return code(err)
		}
	}
	u.hopLimit = v
	return nil
}

// ReceiveBufferSize is receive-buffer-size.
func (u *UDPSocket) ReceiveBufferSize(ctx context.Context) (uint64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.recvBuf, nil
}

// SetReceiveBufferSize is set-receive-buffer-size; set before bind, it
// applies from bind on.
func (u *UDPSocket) SetReceiveBufferSize(ctx context.Context, v uint64) error {
	return u.setBuffer(&u.recvBuf, v, (*net.UDPConn).SetReadBuffer)
}

// SendBufferSize is send-buffer-size.
func (u *UDPSocket) SendBufferSize(ctx context.Context) (uint64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sendBuf, nil
}

// SetSendBufferSize is set-send-buffer-size; set before bind, it
// applies from bind on.
func (u *UDPSocket) SetSendBufferSize(ctx context.Context, v uint64) error {
	return u.setBuffer(&u.sendBuf, v, (*net.UDPConn).SetWriteBuffer)
}

// maxBuffer caps the buffer sizes a guest may ask for.
const maxBuffer = 4 << 20

func (u *UDPSocket) setBuffer(dst *uint64, v uint64, set func(*net.UDPConn, int) error) error {
	if v == 0 {
		return InvalidArgument
	}
	v = min(v, maxBuffer)
	u.mu.Lock()
	defer u.mu.Unlock()
	*dst = v
	if u.conn != nil {
		return code0(set(u.conn, int(v)))
	}
	return nil
}

func code0(err error) error {
	if err == nil {
		return nil
	}
	return code(err)
}

// Subscribe is subscribe: binding completes at once, so it is always
// ready.
func (u *UDPSocket) Subscribe(ctx context.Context) poll.Pollable { return ready(u) }

func ready(parent cabi.Resource) *wasiio.Pollable {
	s := wasiio.NewSignal()
	s.Fire()
	return s.Subscribe(parent)
}

// Drop implements cabi.Resource.
func (u *UDPSocket) Drop() {
	u.mu.Lock()
	if u.dropped {
		u.mu.Unlock()
		return
	}
	u.dropped = true
	u.mu.Unlock()
	u.release()
}

// release drops one reference; the last closes the connection, stops the
// reading goroutine and frees the socket's place under the limit.
func (u *UDPSocket) release() {
	u.mu.Lock()
	u.refs--
	if u.refs > 0 {
		u.mu.Unlock()
		return
	}
	u.closed = true
	c := u.conn
	u.stack.releaseQueued(u.queue)
	u.queue = nil
	u.space.Broadcast()
	u.mu.Unlock()
	u.arrivals.WakeAll()
	if c != nil {
		c.Close()
	}
	u.stack.releaseSocket()
}

// An IncomingDatagramStream is the incoming-datagram-stream resource.
type IncomingDatagramStream struct {
	u       *UDPSocket
	gen     int
	dropped bool
}

// Receive is receive: up to max datagrams already queued, without
// waiting.
func (in *IncomingDatagramStream) Receive(ctx context.Context, max uint64) ([]udp.IncomingDatagram, error) {
	u := in.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if in.gen != u.gen {
		return nil, InvalidState
	}
	if len(u.queue) == 0 && u.readErr != nil {
		return nil, code(u.readErr)
	}
	n := int(min(max, uint64(len(u.queue))))
	out := make([]udp.IncomingDatagram, n)
	for i, d := range u.queue[:n] {
		out[i] = udp.IncomingDatagram{Data: d.data, RemoteAddress: ToWIT(d.from)}
	}
	u.stack.releaseQueued(u.queue[:n])
	clear(u.queue[:n])
	u.queue = u.queue[n:]
	if n > 0 {
		u.space.Broadcast()
	}
	return out, nil
}

// Ready implements wasiio.Source: a receive would return something.
func (in *IncomingDatagramStream) Ready() bool {
	u := in.u
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.queue) > 0 || u.readErr != nil || u.closed || in.gen != u.gen
}

// Watch implements wasiio.Source.
func (in *IncomingDatagramStream) Watch(w *wasiio.Waker) { in.u.arrivals.Add(w) }

// Unwatch implements wasiio.Source.
func (in *IncomingDatagramStream) Unwatch(w *wasiio.Waker) { in.u.arrivals.Remove(w) }

// Subscribe is subscribe: ready when datagrams wait.
func (in *IncomingDatagramStream) Subscribe(ctx context.Context) poll.Pollable {
	return wasiio.NewPollable(in, in)
}

// Drop implements cabi.Resource.
func (in *IncomingDatagramStream) Drop() {
	if !in.dropped {
		in.dropped = true
		in.u.release()
	}
}

// An OutgoingDatagramStream is the outgoing-datagram-stream resource.
type OutgoingDatagramStream struct {
	u       *UDPSocket
	gen     int
	permits uint64
	dropped bool
}

// CheckSend is check-send: a fixed permit, or 0 while the socket's send
// buffer is full (since a send found it so); the stream's pollable is
// ready once it has room.
func (out *OutgoingDatagramStream) CheckSend(ctx context.Context) (uint64, error) {
	u := out.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if out.gen != u.gen {
		return 0, InvalidState
	}
	if !u.send.Ready() {
		out.permits = 0
		return 0, nil
	}
	out.permits = sendPermits
	return sendPermits, nil
}

// Send is send: datagrams go out in order until one fails or finds the
// socket's send buffer full; it returns how many went (0 when the first
// found no room), or the first one's error. It never waits. Sending more
// than check-send permitted traps.
func (out *OutgoingDatagramStream) Send(ctx context.Context, dgs []udp.OutgoingDatagram) (uint64, error) {
	u := out.u
	if uint64(len(dgs)) > out.permits {
		panic(&cabi.Trap{Func: "wasi:sockets/udp#[method]outgoing-datagram-stream.send",
			Msg: "more datagrams than check-send permitted"})
	}
	out.permits -= uint64(len(dgs))
	u.mu.Lock()
	if out.gen != u.gen {
		u.mu.Unlock()
		return 0, InvalidState
	}
	remote, c := u.remote, u.conn
	u.mu.Unlock()
	raw := u.send.socket()
	max := u.stack.maxDatagramSize()
	for i, d := range dgs {
		err := func() error {
			to := remote
			if r, ok := d.RemoteAddress.Get(); ok {
				to = FromWIT(r)
				if remote.IsValid() && to != remote {
					return InvalidArgument
				}
			}
			if !to.IsValid() {
				return InvalidArgument
			}
			if err := u.checkRemote(to); err != nil {
				return err
			}
			if len(d.Data) > max {
				u.stack.caps.Refused(capreport.Datagram, max)
				return DatagramTooLarge
			}
			return u.sendOne(c, raw, d.Data, to)
		}()
		if err == errSendBufferFull {
			u.send.setFull()
			return uint64(i), nil
		}
		if err != nil {
			if i == 0 {
				return 0, code(err)
			}
			return uint64(i), nil
		}
	}
	return uint64(len(dgs)), nil
}

// Ready implements wasiio.Source: check-send would grant a permit (or
// fail).
func (out *OutgoingDatagramStream) Ready() bool {
	u := out.u
	u.mu.Lock()
	stale := out.gen != u.gen || u.closed
	u.mu.Unlock()
	return stale || u.send.Ready()
}

// Watch implements wasiio.Source.
func (out *OutgoingDatagramStream) Watch(w *wasiio.Waker) { out.u.send.Watch(w) }

// Unwatch implements wasiio.Source.
func (out *OutgoingDatagramStream) Unwatch(w *wasiio.Waker) { out.u.send.Unwatch(w) }

// Subscribe is subscribe: ready when check-send would grant a permit.
func (out *OutgoingDatagramStream) Subscribe(ctx context.Context) poll.Pollable {
	return wasiio.NewPollable(out, out)
}

// Drop implements cabi.Resource.
func (out *OutgoingDatagramStream) Drop() {
	if !out.dropped {
		out.dropped = true
		out.u.release()
	}
}
