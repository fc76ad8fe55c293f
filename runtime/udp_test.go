package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// udpEchoPeer answers every datagram with "echo: " and the datagram, and
// before each answer has a second socket, which the guest's policy does
// not allow, send it "stranger", which the host must drop.
func udpEchoPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); stranger.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			stranger.WriteToUDPAddrPort([]byte("stranger"), from)
			c.WriteToUDPAddrPort(append([]byte("echo: "), buf[:n]...), from)
		}
	}()
	return c
}

func runUDP(t *testing.T, p *sockets.Policy, cfg runtime.Config, args ...string) (string, string, *runtime.Runtime, error) {
	t.Helper()
	ctx := context.Background()
	r := newWazero(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	cfg.Network = p
	rt, err := runtime.New(ctx, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/udpecho"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args: append([]string{"udpecho"}, args...), Stdout: &stdout, Stderr: &stderr,
	})
	return stdout.String(), stderr.String(), rt, err
}

// runUDPEcho runs the udpecho guest against an echo peer the policy
// allows, under a datagram limit of datagram bytes, and returns its
// standard output and the peer's address.
func runUDPEcho(t *testing.T, datagram int) (stdout, addr string) {
	t.Helper()
	addr = udpEchoPeer(t).LocalAddr().String()
	p := new(sockets.Policy)
	if err := p.AllowUDP(addr); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, _, err := runUDP(t, p, runtime.Config{Limits: runtime.Limits{Datagram: datagram}}, addr)
	if err != nil {
		t.Fatalf("guest: %v\nstdout:\n%s\nstderr: %s", err, stdout, stderr)
	}
	return stdout, addr
}

// TestGuestUDPEcho: a wasm guest exchanges datagrams with a native peer on
// loopback, unconnected and connected, and meets the policy and the
// datagram size limit.
func TestGuestUDPEcho(t *testing.T) {
	stdout, addr := runUDPEcho(t, 1024)
	want := fmt.Sprintf(`create: ok
bind a fixed port: access-denied
bind an ephemeral port: ok
bind again: invalid-state
local port set: true
stream: ok
send "ping 1": ok 1
received "echo: ping 1" from %[1]s
send without an address: invalid-argument
send to a peer the policy denies: access-denied
send 2000 bytes: datagram-too-large
send 65508 bytes: datagram-too-large
stream to a peer the policy denies: access-denied
stream to the peer: ok
the previous streams: invalid-state
send "ping 2": ok 1
received "echo: ping 2" from %[1]s
send elsewhere when connected: invalid-argument
`, addr)
	if stdout != want {
		t.Errorf("guest output differs:\n%s", lineDiff(stdout, want))
	}
}

// TestGuestUDPPastIPv4: under the largest datagram limit the runtime
// takes, 65,535 bytes, a wasm guest's send over IPv4 of more than the
// 65,507 bytes an IPv4 datagram carries fails with datagram-too-large.
// Before, the kernel's refusal reached the guest as unknown.
func TestGuestUDPPastIPv4(t *testing.T) {
	stdout, _ := runUDPEcho(t, 65535)
	for _, want := range []string{"send 2000 bytes: ok\n", "send 65508 bytes: datagram-too-large\n"} {
		if !strings.Contains(stdout, want) {
			step, _, _ := strings.Cut(want, ":")
			_, got, _ := strings.Cut(stdout, step+":")
			got, _, _ = strings.Cut(got, "\n")
			t.Errorf("guest's %s:%s, want %q", step, got, want)
		}
	}
}

// TestGuestUDPDenied: without a UDP rule, a guest can create a UDP socket
// but not bind it, so it can neither send nor receive.
func TestGuestUDPDenied(t *testing.T) {
	peer := udpEchoPeer(t)
	stdout, stderr, _, err := runUDP(t, new(sockets.Policy), runtime.Config{}, peer.LocalAddr().String())
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	want := "create: ok\nbind a fixed port: access-denied\nbind an ephemeral port: access-denied\nstream: invalid-state\n"
	if stdout != want {
		t.Fatalf("guest output differs:\n%s", lineDiff(stdout, want))
	}
}
