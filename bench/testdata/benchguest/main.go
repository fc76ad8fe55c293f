// Command benchguest is the guest side of the benchmark scenarios of
// package bench. It speaks TLS either through the host's wasi:tls (package
// guest/tls, IMPL "wasi") or with Go's crypto/tls compiled into the module
// over wasi:sockets (package guest/net wrapped by crypto/tls, IMPL "go").
//
//	client IMPL ADDR NAME GROUP   one connection; obey the server's commands
//	                              (package bench/internal/protocol) until it
//	                              sends quit
//	dialer IMPL ADDR NAME GROUP   read a count N per line on stdin, run N
//	                              full handshakes (connect, handshake, read
//	                              one byte, close), answer "ok" on stdout
//	                              (IMPL tcp: the same with no TLS)
//	server IMPL GROUP             listen on 127.0.0.1:0, print "listening
//	                              ADDR"; per connection: handshake, write one
//	                              byte, then hold the connection idle until
//	                              the peer closes it (IMPL tcp: the same
//	                              with no TLS)
//	server-seq IMPL GROUP         as server, one connection at a time on
//	                              the accept loop's goroutine, as the C
//	                              guest's server serves them
//	echo-server IMPL GROUP        as server, but per connection: handshake,
//	                              then echo every byte until the peer
//	                              closes or fails (the soak's server)
//	floor client|server WAITS ALLOCS LOCKS
//	                              read a count N per line on stdin, run N
//	                              "connections" of the Go runtime's own
//	                              work per handshake with no TLS and no
//	                              socket (floor.go), answer "ok"
//
// GROUP is an IANA key-exchange group code point in decimal. Identities and
// trust come from the environment as PEM: KEY and CHAIN (server), CA
// (IMPL go only; with wasi:tls the host holds the trust anchors).
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/bench/internal/protocol"
	wasinet "github.com/wasitls/wasitls/guest/net"
	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "floor" {
		return floor(args[1:])
	}
	if len(args) < 3 {
		return errors.New("usage: benchguest client|dialer IMPL ADDR NAME GROUP | server|server-seq|echo-server IMPL GROUP | floor client|server WAITS ALLOCS LOCKS")
	}
	mode, impl := args[0], args[1]
	if impl != "wasi" && impl != "go" && (impl != "tcp" || mode != "server" && mode != "server-seq" && mode != "dialer") {
		return fmt.Errorf("unknown IMPL %q", impl)
	}
	switch mode {
	case "client", "dialer":
		if len(args) != 5 {
			return fmt.Errorf("%s: want IMPL ADDR NAME GROUP", mode)
		}
		group, err := strconv.ParseUint(args[4], 10, 16)
		if err != nil {
			return err
		}
		d, err := newDialer(impl, args[2], args[3], uint16(group))
		if err != nil {
			return err
		}
		if mode == "client" {
			return d.client()
		}
		return d.handshakes()
	case "server", "server-seq", "echo-server":
		group, err := strconv.ParseUint(args[2], 10, 16)
		if err != nil {
			return err
		}
		handle := hold
		if mode == "echo-server" {
			handle = echo
		}
		return serve(impl, uint16(group), handle, mode == "server-seq")
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// dialer opens client connections with one TLS implementation, or plain
// TCP ones (IMPL tcp).
type dialer struct {
	addr string
	dial func() (net.Conn, error)
}

func newDialer(impl, addr, name string, group uint16) (*dialer, error) {
	d := &dialer{addr: addr}
	switch impl {
	case "tcp":
		d.dial = func() (net.Conn, error) { return wasinet.Dial("tcp", addr) }
		return d, nil
	case "wasi":
		cfg := &wasitls.Config{ServerName: name, CurvePreferences: []uint16{group}}
		d.dial = func() (net.Conn, error) { return wasitls.Dial("tcp", addr, cfg) }
		return d, nil
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(os.Getenv("CA"))) {
		return nil, errors.New("no CA certificate in $CA")
	}
	cfg := &tls.Config{
		ServerName:       name,
		RootCAs:          roots,
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.CurveID(group)},
	}
	d.dial = func() (net.Conn, error) {
		raw, err := wasinet.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, cfg)
		if err := c.Handshake(); err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	}
	return d, nil
}

// client obeys the bulk and echo commands of the server (package
// bench/internal/protocol) on one connection.
func (d *dialer) client() error {
	c, err := d.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return protocol.Obey(c)
}

// handshakes reads counts from stdin and runs that many full handshakes
// for each, answering "ok" (or the error) on stdout.
func (d *dialer) handshakes() error {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(in.Text())
		if err != nil {
			return err
		}
		for range n {
			if err := d.handshake(); err != nil {
				return err
			}
		}
		fmt.Println("ok")
	}
	return in.Err()
}

func (d *dialer) handshake() error {
	c, err := d.dial()
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	var b [1]byte
	_, err = io.ReadFull(c, b[:])
	c.Close()
	if err != nil {
		return fmt.Errorf("handshake: read: %w", err)
	}
	return nil
}

// serve accepts connections and runs handle on each, on a goroutine per
// connection, or on the accept loop's goroutine one after the other
// (sequential), as the C guest's server does.
func serve(impl string, group uint16, handle func(net.Conn), sequential bool) error {
	key, chain := []byte(os.Getenv("KEY")), []byte(os.Getenv("CHAIN"))
	raw, err := wasinet.ListenTCP("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var ln net.Listener = raw
	if impl == "wasi" {
		id, err := wasitls.ParseIdentity(key, chain)
		if err != nil {
			return err
		}
		ln = wasitls.NewListener(raw, &wasitls.Config{
			Identities:       []*wasitls.Identity{id},
			CurvePreferences: []uint16{group},
			// As the native server and crypto/tls in the guest: a full
			// handshake issues no session ticket.
			SessionTicketsDisabled: true,
		})
	} else if impl == "go" {
		cert, err := tls.X509KeyPair(chain, key)
		if err != nil {
			return err
		}
		ln = tls.NewListener(raw, &tls.Config{
			Certificates:           []tls.Certificate{cert},
			MinVersion:             tls.VersionTLS13,
			CurvePreferences:       []tls.CurveID{tls.CurveID(group)},
			SessionTicketsDisabled: true,
		})
	}
	fmt.Println("listening", raw.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		if sequential {
			handle(c)
		} else {
			go handle(c)
		}
	}
}

// echo completes the handshake and echoes every byte until the peer
// closes the connection or it fails.
func echo(c net.Conn) {
	defer c.Close()
	type handshaker interface{ Handshake() error }
	if err := c.(handshaker).Handshake(); err != nil {
		return
	}
	io.Copy(c, c)
}

// hold completes the handshake (a TLS connection's), writes one byte and
// keeps the connection until the peer closes it.
func hold(c net.Conn) {
	defer c.Close()
	type handshaker interface{ Handshake() error }
	if h, ok := c.(handshaker); ok {
		if err := h.Handshake(); err != nil {
			return
		}
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return
	}
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			return
		}
	}
}
