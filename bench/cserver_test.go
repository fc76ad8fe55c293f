package bench

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpeer"
)

// guestTestEnv returns a new env, closed when t ends, for a test that
// builds and runs guests; it skips t in -short mode.
func guestTestEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs guests; skipped in -short mode")
	}
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

// TestCServerSurvivesFailedConnections gives the C guest's server, on each
// backend, connections that fail in each way a client can make them fail,
// each followed by a full handshake that must succeed: the server goes on
// serving, says why each failed, and after each connection holds the
// handles it held before the first. The silent peers are ended by the
// host's handshake timeout and by the server's own hold timeout, so that
// one client cannot stop a server that serves one connection at a time.
func TestCServerSurvivesFailedConnections(t *testing.T) {
	e := guestTestEnv(t)
	if e.cserver == nil {
		testpeer.Missing(t, "C guest toolchain", e.cErr.Error())
	}
	e.handshakeTimeout = time.Second
	const group = tls.X25519MLKEM768
	for _, backend := range backends.Names() {
		t.Run(backend, func(t *testing.T) {
			g, err := e.startCServer(backend, "server", groupArg(group), "1000")
			if err != nil {
				t.Fatal(err)
			}
			defer g.kill()
			addr, err := g.expect("listening ", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			handles := g.tableLen()
			// settled waits until the server dropped every handle of the
			// connection it served.
			settled := func(what string) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for g.tableLen() != handles {
					if time.Now().After(deadline) {
						t.Fatalf("after %s: the server holds %d handles; %d before the first connection\n%s", what, g.tableLen(), handles, g.output)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			good := func(after string) {
				t.Helper()
				if err := nativeHandshake(addr, e.clientConfig(group)); err != nil {
					t.Fatalf("a handshake after %s: %v\n%s", after, err, g.output)
				}
				settled("a good connection after " + after)
			}
			good("none")
			for _, c := range failures {
				t.Logf("%s", c.name)
				if err := c.run(addr, e); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				settled(c.name)
				good(c.name)
			}
			out := g.output.String()
			t.Logf("the server's output:\n%s", out)
			for _, want := range []string{"connection: handshake failed: ", "sent nothing for 1000 ms: dropped"} {
				if !strings.Contains(out, want) {
					t.Errorf("the server's output has no %q:\n%s", want, out)
				}
			}
		})
	}
}

// failures are the ways a client makes a connection to a server fail.
var failures = []struct {
	name string
	run  func(addr string, e *env) error
}{
	{"not TLS", func(addr string, _ *env) error {
		return rawExchange(addr, []byte("GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n"), false)
	}},
	{"a ClientHello cut short, then a close", func(addr string, _ *env) error {
		return rawExchange(addr, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc}, true)
	}},
	{"a reset at once", func(addr string, _ *env) error {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			return err
		}
		c.(*net.TCPConn).SetLinger(0)
		return c.Close()
	}},
	{"a group the server does not accept", func(addr string, e *env) error {
		err := nativeHandshake(addr, e.clientConfig(tls.X25519))
		if err == nil {
			return errors.New("the handshake succeeded")
		}
		return nil
	}},
	{"a silent client (the host's handshake timeout)", func(addr string, _ *env) error {
		return rawExchange(addr, nil, false)
	}},
	{"a client silent after the handshake (the server's hold timeout)", func(addr string, e *env) error {
		d := &tls.Dialer{Config: e.clientConfig(tls.X25519MLKEM768)}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		var b [2]byte
		if n, err := c.Read(b[:]); n != 1 || err != nil {
			return errors.New("no byte after the handshake")
		}
		return waitClosed(c)
	}},
}

// rawExchange connects to addr, writes p and, unless hangUp, waits until
// the server closes the connection.
func rawExchange(addr string, p []byte, hangUp bool) error {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(p); err != nil {
		return err
	}
	if hangUp {
		return nil
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return waitClosed(c)
}

// waitClosed reads from c until the server closes or resets it; a read
// deadline passing is an error.
func waitClosed(c net.Conn) error {
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.New("the server did not close the connection")
	}
	return nil
}
