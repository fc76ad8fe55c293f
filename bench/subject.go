package bench

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// A subject is one TLS implementation under measurement.
type subject struct {
	name    string
	native  bool   // Go's crypto/tls in this process
	impl    impl   // how it does TLS
	backend string // wasi:tls backend (the runtime a guest runs on)
	// component runs the C guest as a component (env.ccomp).
	component bool
	// checks, for the C guest, is how it is stopped (Options.Checks)
	// when not as the env's guests are; empty for those.
	checks string
	// sequential, for the Go guest's server, serves one connection at a
	// time on the accept loop's goroutine, as the C guest's server does.
	sequential bool
	// alt runs the other build of the Go guest (env.altWasm).
	alt bool
}

func nativeSubject() subject {
	return subject{name: "native crypto/tls", native: true, impl: implNative}
}

// cSubject is the C guest (cguest/cguest.c) on backend.
func cSubject(backend string) subject {
	return subject{name: "guest C wasi:tls " + backend, impl: implC, backend: backend}
}

// cComponentSubject is the C guest built as a component on backend.
func cComponentSubject(backend string) subject {
	return subject{name: "guest C component wasi:tls " + backend, impl: implC, backend: backend, component: true}
}

func wasiSubject(backend string) subject {
	return subject{name: "guest wasi:tls " + backend, impl: implWASI, backend: backend}
}

func inGuestSubject(runtimeBackend string) subject {
	return subject{name: "guest in-wasm crypto/tls", impl: implGo, backend: runtimeBackend}
}

// groupArg is a group as the guest's command line takes it.
func groupArg(g tls.CurveID) string { return fmt.Sprint(uint16(g)) }

// A session is an established connection from a subject's client to the
// native protocol server.
type session struct {
	conductor
	stop func() error
}

// openSession starts s's client against a fresh native server of p and
// returns the server's end once the handshake completed.
func (e *env) openSession(p peer, s subject, group tls.CurveID) (*session, error) {
	addr, accept, abort, err := p.listen(group)
	if err != nil {
		return nil, err
	}
	var stop func() error
	switch s.impl {
	case implNative:
		done := make(chan error, 1)
		go func() {
			d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Minute}, Config: e.clientConfig(group)}
			c, err := d.Dial("tcp4", addr)
			if err != nil {
				done <- err
				return
			}
			done <- runClient(c)
		}()
		stop = func() error {
			select {
			case err := <-done:
				return err
			case <-time.After(30 * time.Second):
				return fmt.Errorf("bench: native client did not stop")
			}
		}
	case implC:
		g, err := e.startCGuest(s, group, "client", addr, serverName)
		if err != nil {
			abort()
			return nil, err
		}
		stop = g.stop
	default:
		g, err := e.startGuest(s.backend, "client", string(s.impl), addr, serverName, groupArg(group))
		if err != nil {
			abort()
			return nil, err
		}
		stop = g.stop
	}
	c, err := accept()
	if err != nil {
		stop()
		return nil, fmt.Errorf("bench: %s: %w", s.name, err)
	}
	return &session{conductor: c, stop: stop}, nil
}

// close quits the protocol and waits for the client to finish.
func (s *session) close() error {
	qerr := s.quit()
	if err := s.stop(); err != nil {
		return err
	}
	return qerr
}

// A handshaker runs full handshakes between a subject and the native
// peer: the subject as client (against a native server) or as server
// (against native clients).
type handshaker struct {
	run   func(n int) (time.Duration, error)
	close func() error
}

// nativeServer accepts connections: handshake, one byte, hold until the
// client closes. With cfg nil it serves plain TCP (no handshake).
func nativeServer(cfg *tls.Config) (string, func() error, error) {
	var ln net.Listener
	var err error
	if cfg == nil {
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
	} else {
		ln, err = listenTLS(cfg)
	}
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Write([]byte{1}); err != nil { // runs the handshake
					return
				}
				var b [1]byte
				for {
					if _, err := c.Read(b[:]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), ln.Close, nil
}

// nativeHandshakes runs n full handshakes from a native client to addr;
// with cfg nil, n plain TCP connections (connect, read one byte, close).
func nativeHandshakes(addr string, cfg *tls.Config, n int) (time.Duration, error) {
	start := time.Now()
	for range n {
		if err := nativeHandshake(addr, cfg); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func nativeHandshake(addr string, cfg *tls.Config) error {
	var c net.Conn
	var err error
	if cfg == nil {
		c, err = net.DialTimeout("tcp4", addr, time.Minute)
	} else {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Minute}, Config: cfg}
		c, err = d.Dial("tcp4", addr)
	}
	if err != nil {
		return fmt.Errorf("bench: handshake: %w", err)
	}
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err = c.Read(b[:])
	c.Close()
	if err != nil {
		return fmt.Errorf("bench: handshake: read: %w", err)
	}
	return nil
}

// clientHandshaker: s is the client, the server is p's. Group 0 dials
// plain TCP: per connection, connect, read the server's byte, close.
func (e *env) clientHandshaker(p peer, s subject, group tls.CurveID) (*handshaker, error) {
	addr, closeServer, err := p.server(group)
	if err != nil {
		return nil, err
	}
	if s.native {
		cfg := e.clientConfigOrTCP(group)
		return &handshaker{
			run:   func(n int) (time.Duration, error) { return nativeHandshakes(addr, cfg, n) },
			close: closeServer,
		}, nil
	}
	var g *guest
	switch {
	case s.impl == implC && group == 0:
		g, err = e.startCGuest(s, group, "tcp-dialer", addr)
	case s.impl == implC:
		g, err = e.startCGuest(s, group, "dialer", addr, serverName)
	case group == 0:
		g, err = e.startGuestOf(s.backend, s.alt, "dialer", "tcp", addr, serverName, "0")
	default:
		g, err = e.startGuestOf(s.backend, s.alt, "dialer", string(s.impl), addr, serverName, groupArg(group))
	}
	if err != nil {
		closeServer()
		return nil, err
	}
	return &handshaker{
		run: g.counted,
		close: func() error {
			err := g.stop()
			closeServer()
			return err
		},
	}, nil
}

// counted runs n operations of a guest that reads a count per line on
// stdin and answers "ok" once it ran them (the dialer and floor modes),
// and returns their time.
func (g *guest) counted(n int) (time.Duration, error) {
	start := time.Now()
	if _, err := fmt.Fprintf(g.stdin, "%d\n", n); err != nil {
		return 0, g.failure("stopped: " + err.Error())
	}
	if _, err := g.expect("ok", 5*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// serverHandshaker: s is the server, the clients are p's.
func (e *env) serverHandshaker(p peer, s subject, group tls.CurveID) (*handshaker, error) {
	run := func(addr string) func(n int) (time.Duration, error) {
		return func(n int) (time.Duration, error) { return p.handshakes(addr, group, n) }
	}
	if s.native {
		addr, closeServer, err := nativeServer(e.serverConfigOrTCP(group))
		if err != nil {
			return nil, err
		}
		return &handshaker{run: run(addr), close: closeServer}, nil
	}
	g, addr, err := e.startServerGuest(s, group)
	if err != nil {
		return nil, err
	}
	return &handshaker{run: run(addr), close: g.kill}, nil
}

// startServerGuest starts the guest server (the C guest's for impl c)
// and returns its address. Group 0 serves plain TCP: per connection one
// byte, then hold, with no TLS.
func (e *env) startServerGuest(s subject, group tls.CurveID) (*guest, string, error) {
	var g *guest
	var err error
	impl := string(s.impl)
	if group == 0 {
		impl = "tcp" // plain TCP: the C server takes group 0 for it
	}
	if s.impl == implC {
		g, err = e.startCServer(s.backend, "server", groupArg(group))
	} else {
		mode := "server"
		if s.sequential {
			mode = "server-seq"
		}
		g, err = e.startGuestOf(s.backend, s.alt, mode, impl, groupArg(group))
	}
	if err != nil {
		return nil, "", err
	}
	addr, err := g.expect("listening ", time.Minute)
	if err != nil {
		g.kill()
		return nil, "", err
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		g.kill()
		return nil, "", fmt.Errorf("bench: guest server printed address %q", addr)
	}
	return g, addr, nil
}
