package tlshost_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestHalfCloseWhileSleeping: a guest that sends close_notify and
// then sleeps, holding its socket and calling nothing on the connection,
// shows the peer the end of the stream (the FIN of the deferred
// half-close) within tlshost.CloseGrace, long before it wakes; then it
// reads the server's close_notify as before. stdtls alone half-closes on
// close_notify; circl-pq's CloseWrite sends close_notify alone, as
// crypto/tls's does, and its half-close comes with the connection's close.
func TestGuestHalfCloseWhileSleeping(t *testing.T) {
	p := newGuestPKI(t)
	const sleep = 4 * time.Second
	t.Run("stdtls", func(t *testing.T) {
		const backend = "stdtls"
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		srvErr := make(chan error, 1)
		go func() {
			raw, err := ln.Accept()
			if err != nil {
				srvErr <- err
				return
			}
			defer raw.Close()
			c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			raw.SetDeadline(time.Now().Add(30 * time.Second))
			// close_notify: crypto/tls reports io.EOF.
			if n, err := io.Copy(io.Discard, c); n != 0 || err != nil {
				srvErr <- errors.Join(errors.New("server: reading until close_notify"), err)
				return
			}
			notified := time.Now()
			// The FIN: the raw socket reads the end of the stream.
			raw.SetReadDeadline(notified.Add(tlshost.CloseGrace + time.Second))
			if n, err := raw.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					err = errors.New("no FIN while the guest sleeps")
				}
				srvErr <- errors.Join(errors.New("server: after close_notify"), err)
				return
			}
			// The guest sleeps for sleep after close_notify: a FIN
			// within the bound is the deferred half-close, not the
			// socket's close.
			if d := time.Since(notified); d > tlshost.CloseGrace+time.Second || d >= sleep {
				srvErr <- errors.New("server: the FIN came after " + d.String())
				return
			}
			raw.SetDeadline(time.Now().Add(30 * time.Second))
			srvErr <- c.Close() // the guest reads this close_notify once it wakes
		}()

		g := startGuestWith(t, tlshost.Config{BackendName: backend}, p, "./testdata/stream", nil,
			ln.Addr().String(), "0", strconv.Itoa(int(sleep/time.Millisecond)))
		select {
		case err := <-srvErr:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("server did not finish")
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, out)
		}
		mustContain(t, out, "read 0 bytes")
	})
}
