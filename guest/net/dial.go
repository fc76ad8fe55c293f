//go:build wasip1

package wasinet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
)

var (
	networkOnce sync.Once
	network     sockets.Network
)

// instanceNetwork returns the instance's network, fetched once and kept for
// the guest's lifetime.
func instanceNetwork() sockets.Network {
	networkOnce.Do(func() { network = sockets.InstanceNetwork() })
	return network
}

// literalCache is the last IP literal address a dial parsed ("host:port"
// with an IP for host) and what it parsed to. It is read without a lock:
// an entry is never changed once stored, and a new address replaces it
// whole.
type literalCache struct {
	last atomic.Pointer[literalEntry]
}

type literalEntry struct {
	address, host string
	ap            netip.AddrPort
}

var lastLiteral literalCache

// lookup returns what address parsed to (its host part and the address
// and port), when it is the last literal kept.
func (c *literalCache) lookup(address string) (string, netip.AddrPort, bool) {
	if e := c.last.Load(); e != nil && e.address == address {
		return e.host, e.ap, true
	}
	return "", netip.AddrPort{}, false
}

// keep remembers that address parsed to host and ap.
func (c *literalCache) keep(address, host string, ap netip.AddrPort) {
	c.last.Store(&literalEntry{address: address, host: host, ap: ap})
}

func family(netw string) (v4, v6 bool, err error) {
	switch netw {
	case "tcp":
		return true, true, nil
	case "tcp4":
		return true, false, nil
	case "tcp6":
		return false, true, nil
	}
	return false, false, net.UnknownNetworkError(netw)
}

func parsePort(s string) (uint16, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, errors.New("wasinet: invalid port " + strconv.Quote(s))
	}
	return uint16(p), nil
}

// deadlineOf returns the earlier of ctx's deadline and timeout from now.
func deadlineOf(ctx context.Context, timeout time.Duration) time.Time {
	var d time.Time
	if timeout > 0 {
		d = time.Now().Add(timeout)
	}
	if cd, ok := ctx.Deadline(); ok && (d.IsZero() || cd.Before(d)) {
		d = cd
	}
	return d
}

// LookupHost resolves host through wasi:sockets/ip-name-lookup (an IP literal
// is returned as is).
func LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	stream, err := sockets.ResolveAddresses(instanceNetwork(), host)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: host, IsNotFound: err == sockets.ErrorNameUnresolvable}
	}
	defer stream.Drop()
	var p pollable
	defer p.drop()
	var out []netip.Addr
	for {
		a, ok, err := stream.ResolveNextAddress()
		if err == sockets.ErrorWouldBlock {
			if err := p.wait(ctx, time.Time{}, stream.Subscribe); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: host,
				IsNotFound:  err == sockets.ErrorNameUnresolvable,
				IsTemporary: err == sockets.ErrorTemporaryResolverFailure}
		}
		if !ok {
			break
		}
		out = append(out, a.Addr())
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return out, nil
}

// Dial connects to address ("host:port") on network "tcp", "tcp4" or
// "tcp6", or connects a UDP socket ("udp", "udp4", "udp6"; a *UDPConn).
// Host names are resolved through wasi:sockets/ip-name-lookup.
func Dial(network, address string) (net.Conn, error) {
	return (&Dialer{}).DialContext(context.Background(), network, address)
}

// DialTimeout is Dial with a timeout.
func DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	return (&Dialer{Timeout: timeout}).DialContext(context.Background(), network, address)
}

// A Dialer holds options for connecting.
type Dialer struct {
	// Timeout bounds the whole dial, name resolution included.
	Timeout time.Duration
}

// Dial connects to address on network.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network, trying each resolved address
// in turn until one connects.
//
// The Timeout's context is made here, and the dial is its own function:
// a function with a defer it cannot open-code (the dial's many returns
// would make it so) runs the runtime's deferreturn at every return, even
// when no defer was registered, a few µs of the guest's per dial.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if d.Timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, d.Timeout)
		defer cancel()
		return dial(ctx, network, address)
	}
	return dial(ctx, network, address)
}

// dial is DialContext once the Timeout's context is made.
func dial(ctx context.Context, network, address string) (net.Conn, error) {
	if _, _, err := udpFamily(network); err == nil {
		c, err := dialUDP(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	v4, v6, err := family(network)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	// An IP literal (the common case of a loopback or configured peer)
	// is dialed without a lookup and its one-element list on the heap;
	// the last one parsed is kept, so that a client dialing the same peer
	// again parses nothing.
	var literal [1]netip.Addr
	var addrs []netip.Addr
	host, ap, ok := lastLiteral.lookup(address)
	port := ap.Port()
	if ok {
		literal[0] = ap.Addr()
		addrs = literal[:]
	} else {
		var portStr string
		host, portStr, err = net.SplitHostPort(address)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		port, err = parsePort(portStr)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		if a, err := netip.ParseAddr(host); err == nil {
			literal[0] = a
			addrs = literal[:]
			lastLiteral.keep(address, host, netip.AddrPortFrom(a, port))
		} else if addrs, err = LookupHost(ctx, host); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}
	var firstErr error
	for _, a := range addrs {
		if a.Is4() || a.Is4In6() {
			if !v4 {
				continue
			}
		} else if !v6 {
			continue
		}
		ap := netip.AddrPortFrom(a, port)
		c, err := dialOne(ctx, ap)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "no suitable address", Addr: host}}
	}
	return nil, firstErr
}

func dialOne(ctx context.Context, ap netip.AddrPort) (*Conn, error) {
	fam := sockets.IPv6
	if ap.Addr().Is4() || ap.Addr().Is4In6() {
		fam = sockets.IPv4
	}
	sock, err := sockets.CreateTCPSocket(fam)
	if err != nil {
		return nil, err
	}
	var p pollable
	fail := func(err error) (*Conn, error) {
		p.drop()
		sock.Drop()
		return nil, err
	}
	remote := sockets.SocketAddressFrom(ap, fam)
	if err := sock.StartConnect(instanceNetwork(), remote); err != nil {
		return fail(err)
	}
	// A connect is seldom over at start-connect (the wasitls host dials
	// when the guest waits for it), so the first finish-connect follows a
	// wait, which returns at once for a connect that is: one host call
	// (a would-block finish-connect) fewer per dial.
	for {
		if err := p.wait(ctx, time.Time{}, sock.Subscribe); err != nil {
			return fail(err)
		}
		in, out, err := sock.FinishConnect()
		if err == sockets.ErrorWouldBlock {
			continue
		}
		if err != nil {
			return fail(err)
		}
		p.drop()
		// The peer's address is the one connected to: no
		// remote-address call.
		return newConn(sock, in, out, nil, &remote), nil
	}
}

// pollable is a lazily subscribed pollable, waited on through the poller
// with a context.
type pollable struct {
	p io.Pollable
}

func (p *pollable) drop() {
	if p.p != 0 {
		p.p.Drop()
		p.p = 0
	}
}

// finish calls f, the finish-* half of a two-phase operation, until it
// stops reporting would-block, waiting on the pollable subscribe gives in
// between.
func (p *pollable) finish(ctx context.Context, f func() error, subscribe func() io.Pollable) error {
	for {
		err := f()
		if err != sockets.ErrorWouldBlock {
			return err
		}
		if err := p.wait(ctx, time.Time{}, subscribe); err != nil {
			return err
		}
	}
}

func (p *pollable) wait(ctx context.Context, deadline time.Time, subscribe func() io.Pollable) error {
	if p.p == 0 {
		p.p = subscribe()
	}
	if cd, ok := ctx.Deadline(); ok && (deadline.IsZero() || cd.Before(deadline)) {
		deadline = cd
	}
	err := poll.Wait(p.p, deadline, ctx.Done())
	if err == poll.ErrCanceled {
		return ctx.Err()
	}
	return err
}
