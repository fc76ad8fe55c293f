package tlshost_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// cleartextReads counts the goroutines reading a connection for an input
// stream: an inline stream's one-shot read (a wait on the stream beside
// other pollables) or a goroutine stream's reader.
func cleartextReads() int {
	buf := make([]byte, 1<<20)
	s := string(buf[:goruntime.Stack(buf, true)])
	return strings.Count(s, "wasiio.(*InlineInputStream).readOnce") + strings.Count(s, "wasiio.(*InputStream).run")
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
// works, on both backends.
func TestGuestDropCleartextInputEndsRead(t *testing.T) {
	if goruntime.GOOS == "windows" || goruntime.GOOS == "plan9" {
		t.Skip("sockets' streams are not inline on this platform")
	}
	p := newGuestPKI(t)
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			base := cleartextReads()
			goroutines := goruntime.NumGoroutine()
			peer := make(chan error, 1)
			go func() { peer <- dropReadPeer(ln, p, base) }()
			gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
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
	// Both connections are read for the guest's wait (the sync one until
	// the go-ahead arrives).
	if err := waitCleartextReads(base + 2); err != nil {
		return fmt.Errorf("after the wait beside a timer: %w", err)
	}
	sc.Write([]byte("1"))
	if err := expectLine(mr, "got"); err != nil {
		return err
	}
	// The guest has its go-ahead: the host reads the TLS connection alone.
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
