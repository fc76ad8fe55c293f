package tlshost_test

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// A Go guest's client handshake runs on the guest's waits (the host's
// pausable handshake), which carry the guest's timer: the guest's Go
// timers keep firing while the handshake waits for a slow peer. The
// guest's ticker goroutine (10 ms) must tick at least 10 times through a
// handshake that the peer holds up for a second after the ClientHello
// arrives; a handshake that held the guest's call until it completed would
// let it tick once or twice at most. (The peer once slept from its accept
// instead: on a loaded machine the guest took that long to send its
// ClientHello, the handshake hardly waited, and the ticker ticked once.)
func TestGuestTimersFireDuringHandshake(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	const delay = time.Second
	cert := p.local.TLSCertificate()
	addr := testnet.Serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10*time.Second + delay))
		tc := tls.Server(&answerLate{Conn: c, delay: delay}, &tls.Config{Certificates: []tls.Certificate{cert}})
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
	}).String()
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			g := startGuestWith(t, tlshost.Config{BackendName: backend}, p, giveUpGuest, nil, "client", addr, "10s")
			m := g.waitOutput(t, 10*time.Second, `dial: (.*) after (\S+)\n`)
			if m[1] != "<nil>" {
				t.Fatalf("dial: %s", m[1])
			}
			took, err := time.ParseDuration(m[2])
			if err != nil {
				t.Fatal(err)
			}
			out := g.waitExit(t, 5*time.Second)
			n := ticks(t, out)
			t.Logf("%d ticks during a dial of %v", n, took)
			if n < 10 || took < delay {
				t.Errorf("the ticker goroutine ticked %d times during a dial of %v against a peer that answers after %v", n, took, delay)
			}
		})
	}
}

// answerLate holds its first read, the start of the ClientHello, for
// delay once it has arrived: the peer answers delay after the client
// spoke, however long the client took to.
type answerLate struct {
	net.Conn
	delay time.Duration
	held  bool
}

func (c *answerLate) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.held {
		c.held = true
		time.Sleep(c.delay)
	}
	return n, err
}
