package tlshost_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// dripRecord writes a TLS handshake record header announcing 16 KiB to c,
// then one byte of it every interval until stop is closed: a peer that
// keeps a handshake making progress without ever finishing it.
func dripRecord(c net.Conn, interval time.Duration, stop <-chan struct{}) {
	if _, err := c.Write([]byte{0x16, 0x03, 0x03, 0x40, 0x00}); err != nil {
		return
	}
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			if _, err := c.Write([]byte{0x02}); err != nil {
				return
			}
		}
	}
}

// TestGuestHandshakeTimeoutTrickle: the host's handshake timeout bounds a
// handshake as a whole, not the wait for each byte. A peer that sends a
// byte every 50 ms, never finishing its first message, is given up on no
// sooner than the host's timeout and within a second of it (with a
// margin for load), with the host's reason, whether the guest is the
// client (waiting for its handshake alone, so that it runs on the guest's
// call) or the server; the guest's own deadline is a minute away. Both
// backends. The server then serves a normal client, whose handshake must
// beat the timeout: on a loaded machine the test tries longer ones
// (timeSensitive), as it does when a handshake ends past the margin.
func TestGuestHandshakeTimeoutTrickle(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("client", func(t *testing.T) {
			timeSensitive(t, timeoutLadder, func(t *testing.T, timeout time.Duration) error {
				cfg := tlshost.Config{BackendName: backend, HandshakeTimeout: timeout}
				stop := make(chan struct{})
				addr := hostileServer(t, func(c net.Conn) {
					go io.Copy(io.Discard, c)
					dripRecord(c, 50*time.Millisecond, stop)
				})
				t.Cleanup(func() { close(stop) })
				start := time.Now()
				g := startGuestWith(t, cfg, p, giveUpGuest, nil, "client", addr, "60s")
				m, err := g.outputWithin(timeout+10*time.Second, `dial: (.*) after (\S+)\n`)
				if err != nil {
					return err
				}
				took, err := time.ParseDuration(m[2])
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("dial: %s after %v (%v since the guest started)", m[1], took, time.Since(start))
				mustContain(t, m[1], "handshake timeout")
				return tookWithin(t, "a handshake with a trickling server ended", took, timeout, 2*time.Second)
			})
		})
		t.Run("server", func(t *testing.T) {
			timeSensitive(t, timeoutLadder, func(t *testing.T, timeout time.Duration) error {
				cfg := tlshost.Config{BackendName: backend, HandshakeTimeout: timeout}
				g := startGuestWith(t, cfg, p, giveUpGuest, nil, "server", "127.0.0.1:0", "60s", "1")
				port := g.port(t)
				start := time.Now()
				c, err := net.Dial("tcp", "127.0.0.1:"+port)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				stop := make(chan struct{})
				defer close(stop)
				go dripRecord(c, 50*time.Millisecond, stop)
				if _, err := g.outputWithin(timeout+10*time.Second, `handshake failed: .*handshake timeout`); err != nil {
					return err
				}
				if err := tookWithin(t, "a handshake with a trickling client failed", time.Since(start), timeout, 2*time.Second); err != nil {
					return err
				}
				if err := helloClient(p, port, timeout+5*time.Second); err != nil {
					return fmt.Errorf("client after the trickling one: %v\n%s", err, g.out.String())
				}
				return nil
			})
		})
	})
}
