//go:build wasip1

package wasinet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
)

// udpBatch is how many datagrams one receive call may return; the rest
// wait in the host's queue.
const udpBatch = 8

// errDestinationRequired is returned by Write on a socket that is not
// connected, as EDESTADDRREQ.
var errDestinationRequired = errors.New("destination address required")

// UDPConn is a UDP socket over a wasi:sockets udp-socket and its datagram
// streams. It implements net.PacketConn and net.Conn; one goroutine may
// read while another writes, and Close wakes both.
//
// A socket from [ListenPacket] sends to any address (WriteTo); one from
// [Dial] ("udp") is connected: its streams are limited to the remote
// address, Read and Write work, WriteTo fails and datagrams from other
// senders never arrive.
type UDPConn struct {
	sock      sockets.UDPSocket
	in        sockets.IncomingDatagramStream
	out       sockets.OutgoingDatagramStream
	fam       sockets.IPAddressFamily
	netw      string
	laddr     *net.UDPAddr
	raddr     *net.UDPAddr // nil unless connected
	rmu       sync.Mutex   // serialises reads; guards inP and pending
	inP       io.Pollable
	pending   []sockets.IncomingDatagram
	wmu       sync.Mutex // serialises writes; guards outP
	outP      io.Pollable
	rdl, wdl  *deadline
	closeOnce sync.Once
	closed    atomic.Bool // set by Close before it drops anything
	// six is the IPv6 half of a dual-stack socket ([ListenPacket] "udp"
	// with an empty host): an IPv6 socket bound to the same port, whose
	// datagrams c's reads also return and to which c's writes to IPv6
	// addresses go. Nil otherwise.
	six      *UDPConn
	sixFirst bool // the next read of a dual-stack socket tries six first; guarded by rmu
}

func udpFamily(netw string) (v4, v6 bool, err error) {
	switch netw {
	case "udp":
		return true, true, nil
	case "udp4":
		return true, false, nil
	case "udp6":
		return false, true, nil
	}
	return false, false, net.UnknownNetworkError(netw)
}

// ListenPacket opens a UDP socket bound to address ("host:port") on network
// "udp", "udp4" or "udp6". An empty host binds every IPv4 address ("udp6":
// every IPv6 address); port 0 picks a free port (see LocalAddr). The host's
// policy decides: an ephemeral port needs a UDP rule, a fixed port a listen
// rule, and only peers a UDP rule allows can be sent to or heard from.
//
// On "udp" an empty host (":0", ":53") is dual-stack, as with package net,
// when the host allows it. wasi:sockets has no dual-stack socket (its IPv6
// sockets are IPV6_V6ONLY, with no option to change that), so the
// UDPConn binds an IPv4 socket, then an IPv6 one to the same port: reads
// return the datagrams of both, WriteTo sends an IPv6 address (not an
// IPv4-mapped one) through the IPv6 socket and any other through the IPv4
// one, and LocalAddr is [::]:port. When the host refuses the IPv6 half (no
// IPv6, the port taken for IPv6, or a policy without the bind: the IPv6
// bind is to a fixed port, which this module's host grants only under a
// listen rule covering it) the socket stays IPv4-only, as LocalAddr
// (0.0.0.0:port) says, and WriteTo an IPv6 address fails. "udp4", "udp6"
// and an explicit host ("0.0.0.0", "::") bind one socket of that family.
func ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := ListenUDP(network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListenUDP is ListenPacket returning the concrete type.
func ListenUDP(network, address string) (*UDPConn, error) {
	opErr := func(err error) error { return &net.OpError{Op: "listen", Net: network, Err: err} }
	v4, v6, err := udpFamily(network)
	if err != nil {
		return nil, opErr(err)
	}
	ap, fam, err := localAddr(address, v4, v6)
	if err != nil {
		return nil, opErr(err)
	}
	c, err := newUDPConn(context.Background(), network, fam, ap, netip.AddrPort{})
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.UDPAddrFromAddrPort(ap), Err: err}
	}
	if network == "udp" && emptyHost(address) && c.laddr != nil {
		c.addIPv6()
	}
	return c, nil
}

// emptyHost reports whether address ("host:port") has an empty host.
func emptyHost(address string) bool {
	host, _, err := net.SplitHostPort(address)
	return err == nil && host == ""
}

// addIPv6 makes c, an IPv4 socket bound to every address, dual-stack by
// binding an IPv6 socket to the same port; c stays IPv4-only when the host
// refuses it.
func (c *UDPConn) addIPv6() {
	local := netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(c.laddr.Port))
	six, err := newUDPConn(context.Background(), c.netw, sockets.IPv6, local, netip.AddrPort{})
	if err != nil {
		return
	}
	six.rdl, six.wdl = c.rdl, c.wdl
	c.six = six
	c.laddr = net.UDPAddrFromAddrPort(local)
}

// dialUDP connects a UDP socket to address: the first resolved address of
// the network's family.
func dialUDP(ctx context.Context, network, address string) (*UDPConn, error) {
	opErr := func(addr net.Addr, err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	v4, v6, err := udpFamily(network)
	if err != nil {
		return nil, opErr(nil, err)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(nil, err)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return nil, opErr(nil, err)
	}
	addrs, err := LookupHost(ctx, host)
	if err != nil {
		return nil, opErr(nil, err)
	}
	for _, a := range addrs {
		fam := sockets.IPv6
		if a.Is4() || a.Is4In6() {
			if !v4 {
				continue
			}
			fam, a = sockets.IPv4, a.Unmap()
		} else if !v6 {
			continue
		}
		local := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if fam == sockets.IPv6 {
			local = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
		remote := netip.AddrPortFrom(a, port)
		c, err := newUDPConn(ctx, network, fam, local, remote)
		if err != nil {
			return nil, opErr(net.UDPAddrFromAddrPort(remote), err)
		}
		return c, nil
	}
	return nil, opErr(nil, &net.AddrError{Err: "no suitable address", Addr: host})
}

// newUDPConn creates a socket of fam, binds it to local and opens its
// streams, limited to remote if it is valid.
func newUDPConn(ctx context.Context, netw string, fam sockets.IPAddressFamily, local, remote netip.AddrPort) (*UDPConn, error) {
	sock, err := sockets.CreateUDPSocket(fam)
	if err != nil {
		return nil, err
	}
	var p pollable
	fail := func(err error) (*UDPConn, error) {
		p.drop()
		sock.Drop()
		return nil, err
	}
	if err := sock.StartBind(instanceNetwork(), sockets.SocketAddressFrom(local, fam)); err != nil {
		return fail(err)
	}
	if err := p.finish(ctx, sock.FinishBind, sock.Subscribe); err != nil {
		return fail(err)
	}
	p.drop()
	var to *sockets.IPSocketAddress
	if remote.IsValid() {
		a := sockets.SocketAddressFrom(remote, fam)
		to = &a
	}
	in, out, err := sock.Stream(to)
	if err != nil {
		return fail(err)
	}
	c := &UDPConn{sock: sock, in: in, out: out, fam: fam, netw: netw, rdl: newDeadline(), wdl: newDeadline()}
	if a, err := sock.LocalAddress(); err == nil {
		c.laddr = net.UDPAddrFromAddrPort(a.AddrPort())
	}
	if remote.IsValid() {
		c.raddr = net.UDPAddrFromAddrPort(remote)
	}
	return c, nil
}

func (c *UDPConn) opErr(op string, addr net.Addr, err error) error {
	if err == nil {
		return nil
	}
	if addr == nil && c.raddr != nil {
		addr = c.raddr
	}
	return &net.OpError{Op: op, Net: c.netw, Source: c.laddr, Addr: addr, Err: err}
}

// expired reports whether the deadline of d has passed (or d is closed).
func expired(d *deadline) error {
	t, closed := d.peek()
	if closed {
		return net.ErrClosed
	}
	if !t.IsZero() && !time.Now().Before(t) {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// ReadFromUDPAddrPort reads one datagram into b (truncating it to len(b)),
// waiting on the poller until one arrives or the read deadline passes.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.six != nil {
		c.six.rmu.Lock()
		defer c.six.rmu.Unlock()
	}
	for {
		if err := expired(c.rdl); err != nil {
			return 0, netip.AddrPort{}, err
		}
		// The two halves of a dual-stack socket take turns going first, so
		// that a flood on one does not starve the other.
		first, second := c, c.six
		if second != nil && c.sixFirst {
			first, second = second, first
		}
		c.sixFirst = !c.sixFirst
		d, ok, err := first.next()
		if !ok && err == nil && second != nil {
			d, ok, err = second.next()
		}
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
		if ok {
			return copy(b, d.Data), d.RemoteAddress.AddrPort(), nil
		}
		if c.six == nil {
			err = wait(c.inP, c.rdl)
		} else {
			err = waitEither(c.inP, c.six.inP, c.rdl)
		}
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
	}
}

// next returns the next datagram the host has queued, if any, without
// waiting; when there is none, c.inP is the pollable to wait on. c.rmu is
// held.
func (c *UDPConn) next() (sockets.IncomingDatagram, bool, error) {
	if len(c.pending) == 0 {
		ds, err := c.in.Receive(udpBatch)
		if err != nil {
			return sockets.IncomingDatagram{}, false, err
		}
		c.pending = ds
	}
	if len(c.pending) == 0 {
		if c.inP == 0 {
			c.inP = c.in.Subscribe()
		}
		return sockets.IncomingDatagram{}, false, nil
	}
	d := c.pending[0]
	c.pending[0] = sockets.IncomingDatagram{}
	c.pending = c.pending[1:]
	return d, true, nil
}

// waitEither is wait on two pollables: nil once either is ready or when
// d changes (the caller checks again), os.ErrDeadlineExceeded once d's
// deadline passes, net.ErrClosed when d is closed. Each pollable is waited
// on by a goroutine of its own on the poller, which batches them into one
// host poll; both goroutines are done when it returns.
func waitEither(a, b io.Pollable, d *deadline) error {
	t, ch, closed := d.get()
	if closed {
		return net.ErrClosed
	}
	stop := make(chan struct{})
	done := make(chan error, 2)
	for _, p := range [2]io.Pollable{a, b} {
		go func() { done <- poll.Wait(p, t, stop) }()
	}
	var err error
	pending := 2
	select {
	case err = <-done:
		pending--
	case <-ch:
	}
	close(stop)
	for ; pending > 0; pending-- {
		<-done
	}
	if _, closed := d.peek(); closed {
		return net.ErrClosed
	}
	if err == poll.ErrCanceled {
		return nil
	}
	return err
}

// ReadFrom implements net.PacketConn.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, ap, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, nil, c.opErr("read", nil, err)
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// Read implements net.Conn: ReadFrom without the sender.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(b)
	return n, c.opErr("read", nil, err)
}

// send sends b as one datagram to to (nil on a connected socket), waiting
// on the poller for check-send's permission.
func (c *UDPConn) send(b []byte, to *sockets.IPSocketAddress) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		if err := expired(c.wdl); err != nil {
			return err
		}
		n, err := c.out.CheckSend()
		if err != nil {
			return err
		}
		if n > 0 {
			sent, err := c.out.Send([]sockets.OutgoingDatagram{{Data: b, RemoteAddress: to}})
			if err != nil {
				return err
			}
			if sent == 1 {
				return nil
			}
		}
		if c.outP == 0 {
			c.outP = c.out.Subscribe()
		}
		if err := wait(c.outP, c.wdl); err != nil {
			return err
		}
	}
}

// WriteToUDPAddrPort sends b as one datagram to addr.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	ua := net.UDPAddrFromAddrPort(addr)
	if c.raddr != nil {
		return 0, c.opErr("write", ua, net.ErrWriteToConnected)
	}
	a := addr.Addr()
	if c.six != nil && a.Is6() && !a.Is4In6() {
		return c.six.WriteToUDPAddrPort(b, addr)
	}
	if c.fam == sockets.IPv4 {
		if a = a.Unmap(); !a.Is4() {
			return 0, c.opErr("write", ua, &net.AddrError{Err: "not an IPv4 address", Addr: a.String()})
		}
	} else if a.Is4() {
		return 0, c.opErr("write", ua, &net.AddrError{Err: "not an IPv6 address", Addr: a.String()})
	}
	to := sockets.SocketAddressFrom(netip.AddrPortFrom(a, addr.Port()), c.fam)
	if err := c.send(b, &to); err != nil {
		return 0, c.opErr("write", ua, err)
	}
	return len(b), nil
}

// WriteTo implements net.PacketConn; addr must be a *net.UDPAddr.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opErr("write", addr, &net.AddrError{Err: "not a UDP address", Addr: addrString(addr)})
	}
	return c.WriteToUDPAddrPort(b, ua.AddrPort())
}

func addrString(a net.Addr) string {
	if a == nil {
		return "<nil>"
	}
	return a.String()
}

// Write implements net.Conn: it sends b as one datagram to the connected
// peer.
func (c *UDPConn) Write(b []byte) (int, error) {
	if c.raddr == nil {
		return 0, c.opErr("write", nil, errDestinationRequired)
	}
	if err := c.send(b, nil); err != nil {
		return 0, c.opErr("write", nil, err)
	}
	return len(b), nil
}

// Close wakes pending reads and writes with net.ErrClosed and drops the
// streams, their pollables and the socket.
func (c *UDPConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closed.Store(true)
		c.rdl.close()
		c.wdl.close()
		c.rmu.Lock()
		if c.inP != 0 {
			c.inP.Drop()
		}
		c.in.Drop()
		c.pending = nil
		c.rmu.Unlock()
		c.wmu.Lock()
		if c.outP != 0 {
			c.outP.Drop()
		}
		c.out.Drop()
		c.wmu.Unlock()
		c.sock.Drop()
		if c.six != nil {
			c.six.Close()
		}
	})
	if !first {
		return c.opErr("close", nil, net.ErrClosed)
	}
	return nil
}

// LocalAddr implements net.Conn and net.PacketConn.
func (c *UDPConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr implements net.Conn: the connected peer, or nil.
func (c *UDPConn) RemoteAddr() net.Addr {
	if c.raddr == nil {
		return nil
	}
	return c.raddr
}

// SetDeadline implements net.Conn; after Close it returns an error
// matching net.ErrClosed.
func (c *UDPConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	return c.setDeadline(c.wdl, t)
}

// SetReadDeadline implements net.Conn; a change wakes a pending read, which
// then uses the new deadline.
func (c *UDPConn) SetReadDeadline(t time.Time) error { return c.setDeadline(c.rdl, t) }

// SetWriteDeadline implements net.Conn.
func (c *UDPConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(c.wdl, t) }

// setDeadline sets d to t, or fails with net.ErrClosed after Close.
func (c *UDPConn) setDeadline(d *deadline, t time.Time) error {
	if !d.set(t) {
		return c.opErr("set", nil, net.ErrClosed)
	}
	return nil
}

// Socket returns the underlying udp-socket, still owned by c (for its
// options: hop limit, buffer sizes; of a dual-stack socket, the IPv4 one),
// or net.ErrClosed once Close ran: Close drops the handle, whose number a
// later resource of the guest may then get. The handle must not be used
// once Close was called.
func (c *UDPConn) Socket() (sockets.UDPSocket, error) {
	if c.closed.Load() {
		return 0, c.opErr("socket", nil, net.ErrClosed)
	}
	return c.sock, nil
}
