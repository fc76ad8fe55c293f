package circlpq

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/syncbuf"
)

// TestKeyUpdateRequestedBurst sends several KeyUpdates with
// update_requested in a row: the receiver answers with a single KeyUpdate,
// before its next application data record (RFC 8446, Section 4.6.3).
func TestKeyUpdateRequestedBurst(t *testing.T) {
	c, s, _, _ := established(t)
	before := slices.Clone(s.out.trafficSecret)
	for range 5 {
		if err := c.KeyUpdate(true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := s.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
	s.out.Lock()
	pending, unchanged := s.keyUpdatePending.Load(), bytes.Equal(s.out.trafficSecret, before)
	s.out.Unlock()
	if !pending || !unchanged {
		t.Fatalf("after the requests: pending %v, keys unchanged %v; want the answer held for the next Write", pending, unchanged)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil || string(buf) != "pong" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
	if want := s.out.suite.nextTrafficSecret(before); !bytes.Equal(s.out.trafficSecret, want) {
		t.Error("the server did not update its keys exactly once")
	}
	if !bytes.Equal(c.in.trafficSecret, s.out.trafficSecret) {
		t.Error("the client's read keys do not follow the server's update")
	}
	echo(t, c, s)
}

// TestOpenSSLKeyUpdateBurst has OpenSSL's s_client ask the engine server
// for a key update three times in a row (its K command): the engine
// answers with one KeyUpdate, ahead of its next application data, and
// OpenSSL reads that data under the new keys.
func TestOpenSSLKeyUpdateBurst(t *testing.T) {
	openssl := opensslPath(t)
	p := pki(t)
	f := opensslFiles(t, p)
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Without -quiet, s_client takes commands from its input.
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", "127.0.0.1:"+port,
		"-servername", "a.test", "-CAfile", f["ca"], "-verify_return_error", "-tls1_3", "-msg")
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	out := new(syncbuf.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pw.Close(); cancel(); cmd.Wait() }()
	conn := acceptWithDeadline(t, ln)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	s, hs := engineServer(t, conn, p.serverConfig(p.p256))
	if err := hs(); err != nil {
		t.Fatalf("handshake with s_client: %v; output: %s", err, out)
	}
	before := slices.Clone(s.out.trafficSecret)
	// s_client reads a command from the start of what its input gives
	// it at once, so the commands go one at a time. The engine reads
	// none of them until the data that follows.
	for i := 1; i <= 3; i++ {
		pw.Write([]byte("K\n"))
		waitFor(t, out, func(o string) bool { return keyUpdates(o, ">>>") == i })
	}
	pw.Write([]byte("ping\n"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("engine read %q, %v; output: %s", buf, err, out)
	}
	if _, err := s.Write([]byte("pong\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, func(o string) bool { return strings.Contains(o, "pong") })
	pw.Close()
	s.Close()
	cmd.Wait()
	if sent, received := keyUpdates(out.String(), ">>>"), keyUpdates(out.String(), "<<<"); sent != 3 || received != 1 {
		t.Errorf("s_client sent %d KeyUpdates and received %d; want 3 and 1; output: %s", sent, received, out)
	}
	if want := s.out.suite.nextTrafficSecret(before); !bytes.Equal(s.out.trafficSecret, want) {
		t.Error("the engine did not update its keys exactly once")
	}
}

// keyUpdates counts the KeyUpdate messages s_client -msg shows in one
// direction (">>>" sent, "<<<" received).
func keyUpdates(out, dir string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, dir) && strings.HasSuffix(strings.TrimSpace(line), "KeyUpdate") {
			n++
		}
	}
	return n
}

// waitFor waits until the output satisfies cond.
func waitFor(t *testing.T, out *syncbuf.Buffer, cond func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(out.String()); {
		if time.Now().After(deadline) {
			t.Fatalf("s_client output: %s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTooManyKeyUpdates sends KeyUpdates in a row without data: each
// side takes maxKeyUpdates (32, BoringSSL's bound) before a record of
// data, which starts the count again, and fails the 33rd with
// unexpected_message, as BoGo's TooManyKeyUpdates expects. Before, the
// engine took 64, the bound of every post-handshake message.
func TestTooManyKeyUpdates(t *testing.T) {
	for _, victimIsClient := range []bool{true, false} {
		t.Run(sideName(victimIsClient), func(t *testing.T) {
			hp := establish(t, victimIsClient, nil)
			send := func(updates int) {
				var recs []byte
				for range updates {
					recs = append(recs, sealedKeyUpdate(hp.attacker, false)...)
				}
				recs = append(recs, sealed(hp.attacker, recordTypeApplicationData, []byte("x"))...)
				if _, err := hp.raw.Write(recs); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				send(maxKeyUpdates)
				if _, err := hp.victim.Read(make([]byte, 1)); err != nil {
					t.Fatalf("after %d KeyUpdates and data, victim Read = %v", maxKeyUpdates, err)
				}
			}
			send(maxKeyUpdates + 1)
			_, err := hp.victim.Read(make([]byte, 1))
			wantLocalAlert(t, hp, err, alertUnexpectedMessage, false)
		})
	}
}
