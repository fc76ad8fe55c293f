//go:build wasip1

package wasinet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/sockets"
)

// Listener is a listening TCP socket. It implements net.Listener; Accept
// may be called from several goroutines.
type Listener struct {
	sock sockets.TCPSocket
	addr *net.TCPAddr
	// local is the listener's address as the host reported it when it is
	// a specific one (not 0.0.0.0 or ::), nil otherwise: a connection
	// accepted on a specific address has that address as its own, so
	// Accept does not ask the host for it.
	local *sockets.IPSocketAddress
	mu    sync.Mutex // serialises Accept
	p     pollable
	dl    *deadline
	once  sync.Once
	netw  string
}

// localAddr resolves a local address ("host:port") to bind: an empty host
// is every IPv4 address (every IPv6 address when v4 is false), a name its
// first address; the address must be of a family v4 and v6 allow.
func localAddr(address string, v4, v6 bool) (netip.AddrPort, sockets.IPAddressFamily, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	port, err := parsePort(portStr)
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	var addr netip.Addr
	switch {
	case host == "" && !v4:
		addr = netip.IPv6Unspecified()
	case host == "":
		addr = netip.IPv4Unspecified()
	default:
		addrs, err := LookupHost(context.Background(), host)
		if err != nil {
			return netip.AddrPort{}, 0, err
		}
		addr = addrs[0]
	}
	fam := sockets.IPv6
	if addr.Is4() || addr.Is4In6() {
		fam = sockets.IPv4
		if !v4 {
			return netip.AddrPort{}, 0, &net.AddrError{Err: "not an IPv6 address", Addr: host}
		}
	} else if !v6 {
		return netip.AddrPort{}, 0, &net.AddrError{Err: "not an IPv4 address", Addr: host}
	}
	return netip.AddrPortFrom(addr, port), fam, nil
}

// Listen listens on address ("host:port") on network "tcp", "tcp4" or
// "tcp6". An empty host or "0.0.0.0" listens on every IPv4 address, "::" on
// every IPv6 address; port 0 picks a free port (see Addr).
func Listen(network, address string) (net.Listener, error) {
	l, err := ListenTCP(network, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenTCP is Listen returning the concrete type.
func ListenTCP(network, address string) (*Listener, error) {
	opErr := func(err error) error { return &net.OpError{Op: "listen", Net: network, Err: err} }
	v4, v6, err := family(network)
	if err != nil {
		return nil, opErr(err)
	}
	ap, fam, err := localAddr(address, v4, v6)
	if err != nil {
		return nil, opErr(err)
	}
	sock, err := sockets.CreateTCPSocket(fam)
	if err != nil {
		return nil, opErr(err)
	}
	l := &Listener{sock: sock, dl: newDeadline(), netw: network}
	fail := func(err error) (*Listener, error) {
		l.p.drop()
		sock.Drop()
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	ctx := context.Background()
	if err := sock.StartBind(instanceNetwork(), sockets.SocketAddressFrom(ap, fam)); err != nil {
		return fail(err)
	}
	if err := l.p.finish(ctx, sock.FinishBind, sock.Subscribe); err != nil {
		return fail(err)
	}
	if err := sock.StartListen(); err != nil {
		return fail(err)
	}
	if err := l.p.finish(ctx, sock.FinishListen, sock.Subscribe); err != nil {
		return fail(err)
	}
	if a, err := sock.LocalAddress(); err == nil {
		l.addr = tcpAddr(a)
		if !a.AddrPort().Addr().IsUnspecified() {
			l.local = &a
		}
	} else {
		l.addr = net.TCPAddrFromAddrPort(ap)
	}
	return l, nil
}

// Accept waits for and returns the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ErrTemporary is matched (errors.Is) by an Accept error that a later
// Accept may not repeat: new-socket-limit (the guest holds as many sockets
// as the host allows) or connection-aborted (the peer gave up before it
// was accepted). A server pauses and accepts again, as net/http's
// Server.Serve does, instead of stopping; see guest/tls's ExampleListen.
// The error also matches its sockets.ErrorCode, and reports Temporary.
var ErrTemporary = errors.New("wasinet: temporary failure")

// temporaryError is a temporary error code.
type temporaryError struct{ sockets.ErrorCode }

func (e temporaryError) Unwrap() []error { return []error{e.ErrorCode, ErrTemporary} }

// AcceptTCP is Accept returning the concrete type.
func (l *Listener) AcceptTCP() (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.dl.isClosed() {
			return nil, l.opErr(net.ErrClosed)
		}
		sock, in, out, err := l.sock.Accept()
		if err == sockets.ErrorWouldBlock {
			if l.p.p == 0 {
				l.p.p = l.sock.Subscribe()
			}
			if err := wait(l.p.p, l.dl); err != nil {
				return nil, l.opErr(err)
			}
			continue
		}
		if err != nil {
			if code, ok := err.(sockets.ErrorCode); ok && code.Temporary() {
				err = temporaryError{code}
			}
			return nil, l.opErr(err)
		}
		return newConn(sock, in, out, l.local, nil), nil
	}
}

// SetDeadline sets a deadline for pending and future Accepts.
func (l *Listener) SetDeadline(t time.Time) error {
	if !l.dl.set(t) {
		return &net.OpError{Op: "set", Net: l.netw, Addr: l.addr, Err: net.ErrClosed}
	}
	return nil
}

func (l *Listener) opErr(err error) error {
	return &net.OpError{Op: "accept", Net: l.netw, Addr: l.addr, Err: err}
}

// Close stops listening; pending Accepts return net.ErrClosed.
func (l *Listener) Close() error {
	closed := false
	l.once.Do(func() {
		closed = true
		l.dl.close()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.p.drop()
		l.sock.Drop()
	})
	if !closed {
		return &net.OpError{Op: "close", Net: l.netw, Addr: l.addr, Err: net.ErrClosed}
	}
	return nil
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.addr }
