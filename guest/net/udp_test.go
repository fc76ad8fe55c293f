//go:build !wasip1

package wasinet_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/sockets"
)

// runUDP runs the nettest guest under a policy with the given UDP rules.
func runUDP(t testing.TB, out io.Writer, udp []string, args ...string) (string, error) {
	t.Helper()
	p := new(sockets.Policy)
	if err := p.AllowUDP(udp...); err != nil {
		t.Fatal(err)
	}
	return runPolicy(t, context.Background(), out, p, args...)
}

// udpEchoServer echoes every datagram on an IPv4 loopback socket until
// the test ends.
func udpEchoServer(t *testing.T) string { return udpEchoServerOn(t, "127.0.0.1:0") }

// udpEchoServerOn echoes every datagram on a socket bound to addr.
func udpEchoServerOn(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		b := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			c.WriteTo(b[:n], from)
		}
	}()
	return c.LocalAddr().String()
}

// TestUDPEcho: fifty goroutines of a guest, each with its own socket, send
// a datagram to a Go echo server on loopback and read the echo, waiting on
// the guest's poller together.
func TestUDPEcho(t *testing.T) {
	addr := udpEchoServer(t)
	var out bytes.Buffer
	stderr, err := runUDP(t, &out, []string{addr}, "udpecho", addr, "50")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("udpecho 50 from=%s\n", addr); out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestUDPDial: a connected socket (Dial "udp") writes and reads; WriteTo
// on it fails with net.ErrWriteToConnected.
func TestUDPDial(t *testing.T) {
	addr := udpEchoServer(t)
	var out bytes.Buffer
	stderr, err := runUDP(t, &out, []string{addr}, "udpdial", addr, "hello, udp")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("udpdial: hello, udp remote=%s local=true writeto-connected=true\n", addr); out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestUDPDialIPv6: the same over ::1, an IPv6 socket.
func TestUDPDialIPv6(t *testing.T) {
	addr := udpEchoServerOn(t, "[::1]:0")
	var out bytes.Buffer
	stderr, err := runUDP(t, &out, []string{addr}, "udpdial", addr, "hello, udp6")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("udpdial: hello, udp6 remote=%s local=true writeto-connected=true\n", addr); out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestUDPServe: the guest serves datagrams from twenty Go clients sending
// at once.
func TestUDPServe(t *testing.T) {
	const n = 20
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		stderr, err = runUDP(t, pipeWriter{pw}, []string{"127.0.0.1:*"}, "udpserve", fmt.Sprint(n))
		pw.Close()
		done <- err
	}()
	lines := bufio.NewReader(pr)
	addr, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no address from guest: %v %v", err, <-done)
	}
	addr = strings.TrimSpace(addr)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("udp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := fmt.Sprintf("client %d", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- err
				return
			}
			b := make([]byte, 100)
			k, err := c.Read(b)
			if err != nil || string(b[:k]) != "echo "+msg {
				errs <- fmt.Errorf("client %d: got %q, %v", i, b[:k], err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rest, _ := io.ReadAll(lines)
	if err := <-done; err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("served %d\n", n); string(rest) != want {
		t.Fatalf("stdout %q, want %q", rest, want)
	}
}

// TestUDPDenied: without a UDP rule the guest cannot bind; with a rule
// for another address it cannot send to this one.
func TestUDPDenied(t *testing.T) {
	addr := udpEchoServer(t)
	for _, c := range []struct {
		rules []string
		want  string
	}{
		{nil, "listen: listen udp 127.0.0.1:0: wasi:sockets: access-denied\n"},
		{[]string{"127.0.0.2:9"}, "write: write udp 127.0.0.1:"},
	} {
		var out bytes.Buffer
		stderr, err := runUDP(t, &out, c.rules, "udpdenied", addr)
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out.String(), c.want) || !strings.Contains(out.String(), "access-denied") {
			t.Errorf("rules %v: stdout %q, want %q... access-denied", c.rules, out.String(), c.want)
		}
	}
}

// TestUDPDeadlineAndClose: reads on a socket nobody sends to end at their
// deadline, when the deadline is moved, and on Close, while another
// goroutine sleeps. Deadlines set after Close fail with net.ErrClosed
// (before, they returned nil).
func TestUDPDeadlineAndClose(t *testing.T) {
	var out bytes.Buffer
	stderr, err := runUDP(t, &out, []string{"127.0.0.1:*"}, "udpdeadline")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	want := "timeout true after-deadline true\nmoved true true slept true\nclosed true\nwrite after close true\ndeadlines after close true\n"
	if out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestUDPDeadlineAndCloseDualStack: the same on a dual-stack socket, whose
// reads wait on its two halves at once.
func TestUDPDeadlineAndCloseDualStack(t *testing.T) {
	p := new(sockets.Policy)
	if err := p.AllowUDP("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowListen("[::]:*"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	stderr, err := runPolicy(t, context.Background(), &out, p, "udpdeadline", ":0")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	want := "::\ntimeout true after-deadline true\nmoved true true slept true\nclosed true\nwrite after close true\ndeadlines after close true\n"
	if out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestUDPHopLimit: the guest sets and reads back its socket's unicast hop
// limit (the host applies it: runtime/sockets' TestUDPHopLimitApplied);
// once the socket is closed, Socket fails with net.ErrClosed instead of
// returning the dropped handle.
func TestUDPHopLimit(t *testing.T) {
	var out bytes.Buffer
	stderr, err := runUDP(t, &out, []string{"127.0.0.1:*"}, "udphoplimit", "9")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := "hop limit 9 <nil>, socket after close closed true\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestUDPDualStack: ListenPacket("udp", ":0") in the guest binds an IPv4
// and an IPv6 socket to one port when the policy allows the IPv6 half (a
// listen rule covering [::]:port, since that bind is to a fixed port):
// LocalAddr is [::]:port, and Go clients on ::1 and on 127.0.0.1 each get
// their echo from that port. Without the listen rule the socket stays
// IPv4-only: LocalAddr is 0.0.0.0:port and the IPv4 client still works.
func TestUDPDualStack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listen []string
		dual   bool
	}{
		{"dual", []string{"[::]:*"}, true},
		{"ipv4-only", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients := []string{"127.0.0.1"}
			if tc.dual {
				clients = append(clients, "::1", "127.0.0.1", "::1")
			}
			p := new(sockets.Policy)
			if err := p.AllowUDP("127.0.0.1:*", "[::1]:*"); err != nil {
				t.Fatal(err)
			}
			if err := p.AllowListen(tc.listen...); err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			var stderr string
			go func() {
				var err error
				stderr, err = runPolicy(t, context.Background(), pipeWriter{pw}, p, "udpdual", fmt.Sprint(len(clients)))
				pw.Close()
				done <- err
			}()
			lines := bufio.NewReader(pr)
			line, err := lines.ReadString('\n')
			if err != nil {
				t.Fatalf("no address from guest: %v %v", err, <-done)
			}
			local, err := netip.ParseAddrPort(strings.TrimSpace(line))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]netip.Addr{true: netip.IPv6Unspecified(), false: netip.IPv4Unspecified()}[tc.dual]; local.Addr() != want {
				t.Fatalf("guest's LocalAddr %v, want %v:port", local, want)
			}
			for i, host := range clients {
				to := netip.AddrPortFrom(netip.MustParseAddr(host), local.Port())
				c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				msg := fmt.Sprintf("client %d on %s", i, host)
				if _, err := c.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 100)
				n, from, err := c.ReadFromUDPAddrPort(b)
				c.Close()
				if err != nil || string(b[:n]) != "echo "+msg || from.Addr().Unmap() != to.Addr() || from.Port() != to.Port() {
					t.Fatalf("%s: got %q from %v, %v; want the echo from %v", host, b[:n], from, err, to)
				}
			}
			rest, _ := io.ReadAll(lines)
			if err := <-done; err != nil {
				t.Fatalf("guest: %v\n%s", err, stderr)
			}
			if want := fmt.Sprintf("served %d\n", len(clients)); string(rest) != want {
				t.Fatalf("stdout %q, want %q", rest, want)
			}
		})
	}
}
