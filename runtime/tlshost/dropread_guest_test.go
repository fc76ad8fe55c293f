package tlshost_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// cleartextReads counts the goroutines reading a TLS connection for its
// cleartext input stream: an inline stream's one-shot read (a wait on the
// stream beside other pollables) or a goroutine stream's reader, through
// the TLS host (a socket's input stream read for the guest has no frame
// of it).
func cleartextReads() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:goruntime.Stack(buf, true)]), "\n\n") {
		if (strings.Contains(g, "wasiio.(*InlineInputStream).readOnce") || strings.Contains(g, "wasiio.(*InputStream).run")) &&
			strings.Contains(g, "wasitls/runtime/tlshost.") {
			n++
		}
	}
	return n
}

// waitCleartextReads waits, at most 5 s, until cleartextReads is want.
func waitCleartextReads(want int) error {
	deadline := time.Now().Add(5 * time.Second)
	for cleartextReads() != want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("%d goroutines read for a cleartext input stream, want %d\n%s",
				cleartextReads(), want, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// TestGuestDropCleartextInputEndsRead: a wasm guest waits on a TLS
// connection's cleartext input stream, a socket's input stream and a timer
// (a stream beside a timer alone waits on the guest's call, bounded by the
// timer), which leaves a host
// goroutine reading the connection of a silent peer, then drops the
// stream and keeps the connection and its output stream. The goroutine
// ends within a bounded wait (before, it stayed until the peer sent
// something or the connection closed), and the output stream still
// works, on both backends, the stream inline or a goroutine's.
func TestGuestDropCleartextInputEndsRead(t *testing.T) {
	if goruntime.GOOS == "windows" || goruntime.GOOS == "plan9" {
		t.Skip("sockets' streams are not inline on this platform")
	}
	p := newGuestPKI(t)
	stdtls, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]tlshost.Config{
		"stdtls":   {BackendName: "stdtls"},
		"circl-pq": {BackendName: "circl-pq"},
		// A backend whose connections cannot read without blocking: the
		// cleartext input stream is a goroutine's, reading ahead.
		"stdtls-goroutine": {Backend: blockingReads{stdtls}},
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			base := cleartextReads()
			goroutines := goruntime.NumGoroutine()
			peer := make(chan error, 1)
			go func() { peer <- dropReadPeer(ln, p, base) }()
			gr := newGuestRuntime(t, cfg, p)
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			g := gr.start(t, "./testdata/dropread", nil, "127.0.0.1", port)
			var perr error
			select {
			case perr = <-peer:
			case <-time.After(60 * time.Second):
				t.Fatal("the peer did not finish")
			}
			out, err := g.wait(t)
			if perr != nil {
				t.Fatalf("peer: %v (guest: %v, output %q)", perr, err, out)
			}
			if err != nil || out != "ok\n" {
				t.Fatalf("guest: %v, output %q", err, out)
			}
			waitGoroutines(t, goroutines)
		})
	}
}

// blockingReads is a backend whose connections hide the interfaces that
// let the host read them without blocking.
type blockingReads struct{ backends.Backend }

func (b blockingReads) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	c, err := b.Backend.Client(transport, cfg)
	return struct{ backends.Conn }{c}, err
}

func (b blockingReads) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	c, err := b.Backend.Server(transport, cfg)
	return struct{ backends.Conn }{c}, err
}

// dropReadPeer is the guest's peer: a TLS server, silent on the main
// connection, that checks the host's reads at each step and gives the
// go-aheads on the plain sync connection.
func dropReadPeer(ln net.Listener, p *guestPKI, base int) error {
	sc, err := ln.Accept()
	if err != nil {
		return err
	}
	defer sc.Close()
	sc.SetDeadline(time.Now().Add(60 * time.Second))
	if err := expectLine(bufio.NewReader(sc), "sync"); err != nil {
		return err
	}
	raw, err := ln.Accept()
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	mc := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
	mr := bufio.NewReader(mc)
	if err := expectLine(mr, "polled"); err != nil {
		return err
	}
	// The TLS connection is read for the guest's wait.
	if err := waitCleartextReads(base + 1); err != nil {
		return fmt.Errorf("after the wait beside a timer: %w", err)
	}
	sc.Write([]byte("1"))
	if err := expectLine(mr, "got"); err != nil {
		return err
	}
	// The guest has its go-ahead: the host still reads the TLS connection.
	if err := waitCleartextReads(base + 1); err != nil {
		return fmt.Errorf("after the go-ahead: %w", err)
	}
	sc.Write([]byte("2"))
	if err := expectLine(mr, "dropped"); err != nil {
		return err
	}
	if err := waitCleartextReads(base); err != nil {
		return fmt.Errorf("after the input stream's drop: %w", err)
	}
	sc.Write([]byte("3"))
	if err := expectLine(mr, "still"); err != nil {
		return err
	}
	if b, err := mr.ReadByte(); err != io.EOF {
		return fmt.Errorf("after the connection's drop: %q, %v, want EOF", b, err)
	}
	return nil
}

func expectLine(r *bufio.Reader, want string) error {
	line, err := r.ReadString('\n')
	if err != nil || line != want+"\n" {
		return fmt.Errorf("read %q, %v; want %q", line, err, want)
	}
	return nil
}

// TestGuestDropCleartextInputDuringPostHandshakeAuth: a wasm guest server
// requests its client's identity after the handshake (circl-pq, the
// backend that can), waits on the cleartext input stream beside another
// socket's and a timer while the client reads nothing (the request is
// unanswered), and drops the stream. The host's read for it ends as
// without the request, and the authentication, whose reads the backend
// then makes on its own, completes once the client reads and answers.
func TestGuestDropCleartextInputDuringPostHandshakeAuth(t *testing.T) {
	if goruntime.GOOS == "windows" || goruntime.GOOS == "plan9" {
		t.Skip("sockets' streams are not inline on this platform")
	}
	p := newGuestPKI(t)
	syncLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer syncLn.Close()
	base := cleartextReads()
	gr := newGuestRuntime(t, tlshost.Config{BackendName: "circl-pq"}, p)
	g := gr.start(t, "./testdata/phadrop", nil, "/certs/localhost.key", "/certs/localhost.pem", syncLn.Addr().String())
	sc, err := syncLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.SetDeadline(time.Now().Add(60 * time.Second))
	sr := bufio.NewReader(sc)
	if err := expectLine(sr, "sync"); err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", "127.0.0.1:"+g.port(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	var asked atomic.Int32
	conn, err := circlpq.Backend{}.Client(raw, &backends.ClientConfig{
		ServerName: "localhost",
		RootCAs:    p.ca.Pool(),
		ClientIdentity: func(_ context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
			if !req.PostHandshake {
				return nil, nil
			}
			asked.Add(1)
			return []*backends.Identity{p.client.Identity()}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if err := expectLine(sr, "polled"); err != nil {
		t.Fatalf("%v\n%s", err, g.out.String())
	}
	if err := waitCleartextReads(base + 1); err != nil {
		t.Fatalf("after the wait beside a timer: %v", err)
	}
	sc.Write([]byte("1"))
	if err := expectLine(sr, "dropped"); err != nil {
		t.Fatal(err)
	}
	if err := waitCleartextReads(base); err != nil {
		t.Fatalf("after the input stream's drop: %v", err)
	}
	// The client reads: it answers the request on its way.
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "authenticated guest client\n" {
		t.Fatalf("the client read %q, %v\n%s", line, err, g.out.String())
	}
	if asked.Load() != 1 {
		t.Errorf("the client was asked for its identity %d times after the handshake, want 1", asked.Load())
	}
	out, err := g.wait(t)
	if err != nil || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("guest: %v\n%s", err, out)
	}
}
