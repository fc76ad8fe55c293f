package tlshost_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	custombackend "github.com/wasitls/wasitls/examples/custom-backend"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Guests built from guest/tls give up on handshakes with silent peers, and
// the host ends them within a second on every backend, including one that
// only wraps another (examples/custom-backend) and one that ignores its
// cancellation altogether. Before, a guest that gave up on a stdtls
// handshake froze: every goroutine stopped for as long as the peer kept
// the socket open.

const giveUpGuest = "./testdata/giveup"

// giveUpConfigs are host configurations over every backend a guest may
// meet: the registered ones, the custom backend wrapping each, and a
// misbehaving one.
func giveUpConfigs(t *testing.T) map[string]tlshost.Config {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfgs := map[string]tlshost.Config{}
	for _, name := range backends.Names() {
		b, err := backends.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		cfgs[name] = tlshost.Config{Backend: b}
		if d, ok := b.(backends.Describer); ok {
			cfgs["allowlist("+name+")"] = tlshost.Config{Backend: custombackend.New(d, []string{"localhost"}, quiet)}
		}
	}
	return cfgs
}

func eachGiveUpConfig(t *testing.T, f func(t *testing.T, cfg tlshost.Config)) {
	for name, cfg := range giveUpConfigs(t) {
		t.Run(name, func(t *testing.T) { f(t, cfg) })
	}
}

// silentListener accepts connections and never answers; it reads and
// discards what arrives. Accepted connections stay open until the test
// ends.
func silentListener(t *testing.T) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) }).String()
}

// waitOutput waits up to d for a line of the guest's output matching re
// and returns its submatches.
func (g *guest) waitOutput(t *testing.T, d time.Duration, re string) []string {
	t.Helper()
	m, err := g.outputWithin(d, re)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// outputWithin is waitOutput returning its failure.
func (g *guest) outputWithin(d time.Duration, re string) ([]string, error) {
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for {
		if m := rx.FindStringSubmatch(g.out.String()); m != nil {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no output matching %q within %v; output:\n%s", re, d, g.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCount waits up to d for n lines of the guest's output containing
// substr.
func (g *guest) waitCount(t *testing.T, d time.Duration, substr string, n int) {
	t.Helper()
	if err := g.countWithin(d, substr, n); err != nil {
		t.Fatal(err)
	}
}

// countWithin is waitCount returning its failure.
func (g *guest) countWithin(d time.Duration, substr string, n int) error {
	deadline := time.Now().Add(d)
	for {
		got := 0
		for _, line := range strings.Split(g.out.String(), "\n") {
			if strings.Contains(line, substr) {
				got++
			}
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d lines with %q within %v, want %d; output:\n%s", got, substr, d, n, g.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits up to d for the guest to exit successfully.
func (g *guest) waitExit(t *testing.T, d time.Duration) string {
	t.Helper()
	out, err := g.exitWithin(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exitWithin is waitExit returning its failure.
func (g *guest) exitWithin(d time.Duration) (string, error) {
	select {
	case err := <-g.done:
		g.done <- err
		if err != nil {
			return "", fmt.Errorf("guest: %v\n%s", err, g.out.String())
		}
		return g.out.String(), nil
	case <-time.After(d):
		return "", fmt.Errorf("guest did not exit within %v; output:\n%s", d, g.out.String())
	}
}

// TestGuestClientGivesUp: DialContext with a 1 s timeout against a server
// that never answers returns within a second of the timeout, and the
// guest's other goroutines ran meanwhile.
func TestGuestClientGivesUp(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	run := func(t *testing.T, cfg tlshost.Config) {
		addr := silentListener(t)
		g := startGuestWith(t, cfg, p, giveUpGuest, nil, "client", addr, "1s")
		m := g.waitOutput(t, 8*time.Second, `dial: (.*) after (\S+)\n`)
		took, err := time.ParseDuration(m[2])
		if err != nil {
			t.Fatal(err)
		}
		// Within a second of the timeout, the host guarantees (the
		// session tests check that bound); here also the guest's poller
		// and the machine's load count, and a frozen guest never returns.
		if took > 4*time.Second {
			t.Errorf("DialContext with a 1s timeout returned after %v", took)
		}
		if !regexp.MustCompile(`i/o timeout|deadline exceeded`).MatchString(m[1]) {
			t.Errorf("dial error %q, want a timeout", m[1])
		}
		out := g.waitExit(t, 5*time.Second)
		// The ticker goroutine shares the guest's one thread with the
		// dial (how often it ticks depends on the machine's load).
		if n := ticks(t, out); n < 1 {
			t.Errorf("the ticker goroutine never ticked during a 1s dial")
		}
	}
	eachGiveUpConfig(t, run)
	t.Run("stuck-backend", func(t *testing.T) { run(t, tlshost.Config{Backend: tlshost.NewStuckBackend(t)}) })
}

func ticks(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`ticks: (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ticks line:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestGuestServerGivesUp: a guest server whose HandshakeContext times out
// on a silent client, no sooner, goes on accepting and serves the next
// client at once. The next client's handshake must beat the guest's
// timeout too: on a loaded machine the test tries longer ones
// (timeSensitive).
func TestGuestServerGivesUp(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	run := func(t *testing.T, cfg tlshost.Config) {
		timeSensitive(t, []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond, 4500 * time.Millisecond}, func(t *testing.T, timeout time.Duration) error {
			g := startGuestWith(t, cfg, p, giveUpGuest, nil, "server", "127.0.0.1:0", timeout.String(), "1")
			port := g.port(t)
			start := time.Now()
			silent, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			if _, err := g.outputWithin(timeout+5*time.Second, `handshake failed: .*(i/o timeout|deadline exceeded)`); err != nil {
				return err
			}
			// The host ends the handshake within a second of the
			// guest's giving up; with a margin for a loaded machine.
			if err := tookWithin(t, "the silent client's handshake failed", time.Since(start), timeout, 3*time.Second); err != nil {
				return err
			}
			// The next client is served at once.
			if err := helloClient(p, port, timeout+2*time.Second); err != nil {
				return fmt.Errorf("client after the silent one: %v\n%s", err, g.out.String())
			}
			out, err := g.exitWithin(5 * time.Second)
			if err != nil {
				return err
			}
			mustContain(t, out, "served", "failed: 1")
			return nil
		})
	}
	eachGiveUpConfig(t, run)
	t.Run("stuck-backend", func(t *testing.T) {
		// Nothing can be served; the guest still gets its error in time
		// and keeps accepting.
		g := startGuestWith(t, tlshost.Config{Backend: tlshost.NewStuckBackend(t)}, p, giveUpGuest, nil, "server", "127.0.0.1:0", "500ms", "1")
		port := g.port(t)
		for i := range 2 {
			silent, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			g.waitCount(t, 500*time.Millisecond+2*time.Second, "handshake failed: ", i+1)
		}
	})
}

// TestGuestServerBesideSilentHandshake: while a silent client's
// handshake waits on the guest's call (its connection goroutine waits for
// it beside the accept loop's listener, and the host runs it there), the
// next client is accepted and served at once.
func TestGuestServerBesideSilentHandshake(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	eachGiveUpConfig(t, func(t *testing.T, cfg tlshost.Config) {
		g := startGuestWith(t, cfg, p, giveUpGuest, nil, "server", "127.0.0.1:0", "30s", "1")
		port := g.port(t)
		silent, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		// A margin for the guest to accept the silent client and wait
		// for its handshake; the client below is served either way.
		time.Sleep(100 * time.Millisecond)
		// Served at once: a client served only once the silent one's
		// handshake timed out would wait 30 s; 10 s leaves room for a
		// loaded machine.
		if err := helloClient(p, port, 10*time.Second); err != nil {
			t.Fatalf("client beside the silent one: %v\n%s", err, g.out.String())
		}
		out := g.waitExit(t, 5*time.Second)
		mustContain(t, out, "served")
	})
}

// helloClient runs one crypto/tls client against a giveup server guest.
func helloClient(p *guestPKI, port string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c, err := (&tls.Dialer{Config: &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()}}).DialContext(ctx, "tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, "hi\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "hello hi\n" {
		return errors.New("answer " + strconv.Quote(line))
	}
	return nil
}

// TestGuestHandshakeTimeout: with the host's handshake timeout alone (the
// guest sets none), 500 silent clients of a guest server are all released
// after the timeout, no sooner: each handshake fails with the host's
// reason, the peers see their connections end, the guest serves the next
// client, and the host's goroutines and file descriptors are back to
// what they were. The next client's handshake must beat the timeout: on
// a loaded machine the test tries longer ones (timeSensitive).
func TestGuestHandshakeTimeout(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		timeSensitive(t, timeoutLadder, func(t *testing.T, timeout time.Duration) error {
			return guestHandshakeTimeout(t, p, backend, timeout)
		})
	})
}

// guestHandshakeTimeout is TestGuestHandshakeTimeout with timeout as the
// host's handshake timeout.
func guestHandshakeTimeout(t *testing.T, p *guestPKI, backend string, timeout time.Duration) error {
	const silentClients = 500
	g := startGuestWith(t, tlshost.Config{BackendName: backend, HandshakeTimeout: timeout}, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1")
	port := g.port(t)
	// Let the guest settle (its ticker, the listener's accept
	// goroutine) before the baseline.
	time.Sleep(100 * time.Millisecond)
	goBefore, fdBefore := goroutines(), openFDs(t)

	start := time.Now()
	peers := make([]net.Conn, silentClients)
	for i := range peers {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = c
	}
	defer func() {
		for _, c := range peers {
			c.Close()
		}
	}()
	firstEnded := endsAt(peers[0])
	// Room for a loaded machine.
	bound := timeout + 10*time.Second
	if err := g.countWithin(bound, "handshake failed", silentClients); err != nil {
		return err
	}
	t.Logf("%d handshakes failed %v after the first connection", silentClients, time.Since(start).Round(time.Millisecond))
	// Let go no sooner than the timeout, and for it.
	firstEnd, err := endedWithin(firstEnded, bound)
	if err != nil {
		t.Fatalf("silent client 0: %v, after its handshake failed", err)
	}
	if took := firstEnd.Sub(start); took < timeout {
		t.Fatalf("the first silent client was let go after %v, before the handshake timeout of %v", took, timeout)
	}
	if n := strings.Count(g.out.String(), "did not complete within "+timeout.String()); n != silentClients {
		t.Fatalf("%d handshakes failed for the timeout, want %d:\n%s", n, silentClients, g.out.String())
	}
	// Every peer sees its connection end (after an alert, perhaps)
	// although it never closed it.
	for i, c := range peers[1:] {
		c.SetReadDeadline(time.Now().Add(bound))
		if _, err := io.Copy(io.Discard, c); isTimeout(err) {
			t.Fatalf("silent client %d: %v, want the end of the connection", i+1, err)
		}
		c.Close()
	}
	// The guest serves the next client.
	if err := helloClient(p, port, bound); err != nil {
		// A handshake that missed the timeout on a loaded machine.
		return fmt.Errorf("client after the silent ones: %v\n%s", err, g.out.String())
	}
	// The host holds nothing more for them.
	deadline := time.Now().Add(bound)
	for {
		goNow, fdNow := goroutines(), openFDs(t)
		if goNow <= goBefore && fdNow <= fdBefore {
			t.Logf("goroutines %d (baseline %d), fds %d (baseline %d)", goNow, goBefore, fdNow, fdBefore)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d (baseline %d), fds %d (baseline %d)", goNow, goBefore, fdNow, fdBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := g.exitWithin(bound)
	if err != nil {
		return err
	}
	mustContain(t, out, "served", "failed: "+strconv.Itoa(silentClients))
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestGuestDraftClientTimeout: the upstream draft's client handshake is
// bounded by the host's handshake timeout too, and its error says so.
func TestGuestDraftClientTimeout(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		_, port, _ := net.SplitHostPort(silentListener(t))
		g := startGuestWith(t, tlshost.Config{BackendName: backend, HandshakeTimeout: 500 * time.Millisecond}, p, "./testdata/draftclient", nil, "localhost", port)
		g.waitOutput(t, 500*time.Millisecond+5*time.Second, `handshake failed: .*did not complete within 500ms`)
	})
}
