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
	impl    impl   // for guests
	backend string // wasi:tls backend (the runtime a guest runs on)
}

func nativeSubject() subject { return subject{name: "native crypto/tls", native: true} }

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
	*driver
	stop func() error
}

// openSession starts s's client against a fresh native server and returns
// the server's end once the handshake completed.
func (e *env) openSession(s subject, group tls.CurveID) (*session, error) {
	ln, err := listenTLS(e.serverConfig(group))
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	addr := ln.Addr().String()
	var stop func() error
	if s.native {
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
	} else {
		g, err := e.startGuest(s.backend, "client", string(s.impl), addr, serverName, groupArg(group))
		if err != nil {
			return nil, err
		}
		stop = g.stop
	}
	d, err := acceptDriver(ln, 60*time.Second)
	if err != nil {
		ln.Close()
		stop()
		return nil, fmt.Errorf("bench: %s: %w", s.name, err)
	}
	return &session{driver: d, stop: stop}, nil
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
// client closes.
func nativeServer(cfg *tls.Config) (string, func() error, error) {
	ln, err := listenTLS(cfg)
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

// nativeHandshakes runs n full handshakes from a native client to addr.
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
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Minute}, Config: cfg}
	c, err := d.Dial("tcp4", addr)
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

// clientHandshaker: s is the client, the server is native.
func (e *env) clientHandshaker(s subject, group tls.CurveID) (*handshaker, error) {
	addr, closeServer, err := nativeServer(e.serverConfig(group))
	if err != nil {
		return nil, err
	}
	if s.native {
		cfg := e.clientConfig(group)
		return &handshaker{
			run:   func(n int) (time.Duration, error) { return nativeHandshakes(addr, cfg, n) },
			close: closeServer,
		}, nil
	}
	g, err := e.startGuest(s.backend, "dialer", string(s.impl), addr, serverName, groupArg(group))
	if err != nil {
		closeServer()
		return nil, err
	}
	return &handshaker{
		run: func(n int) (time.Duration, error) {
			start := time.Now()
			if _, err := fmt.Fprintf(g.stdin, "%d\n", n); err != nil {
				return 0, g.failure("stopped: " + err.Error())
			}
			if _, err := g.expect("ok", 5*time.Minute); err != nil {
				return 0, err
			}
			return time.Since(start), nil
		},
		close: func() error {
			err := g.stop()
			closeServer()
			return err
		},
	}, nil
}

// serverHandshaker: s is the server, the clients are native.
func (e *env) serverHandshaker(s subject, group tls.CurveID) (*handshaker, error) {
	cfg := e.clientConfig(group)
	if s.native {
		addr, closeServer, err := nativeServer(e.serverConfig(group))
		if err != nil {
			return nil, err
		}
		return &handshaker{
			run:   func(n int) (time.Duration, error) { return nativeHandshakes(addr, cfg, n) },
			close: closeServer,
		}, nil
	}
	g, addr, err := e.startServerGuest(s, group)
	if err != nil {
		return nil, err
	}
	return &handshaker{
		run:   func(n int) (time.Duration, error) { return nativeHandshakes(addr, cfg, n) },
		close: g.kill,
	}, nil
}

// startServerGuest starts the guest server and returns its address.
func (e *env) startServerGuest(s subject, group tls.CurveID) (*guest, string, error) {
	g, err := e.startGuest(s.backend, "server", string(s.impl), groupArg(group))
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
