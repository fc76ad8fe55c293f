package main

import (
	"net"
	"strings"
	"testing"
)

// TestRunUDPFlags: --allow-udp lets the udpecho guest reach a native echo
// peer, --max-datagram bounds what it sends, and without the flag it
// cannot even bind.
func TestRunUDPFlags(t *testing.T) {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			peer.WriteToUDPAddrPort(append([]byte("echo: "), buf[:n]...), from)
		}
	}()
	addr := peer.LocalAddr().String()
	guest := wasmFile(t, "../../runtime/testdata/udpecho")

	code, stdout, stderr := runCLI(t, "--allow-udp", addr, "--max-datagram", "1024", guest, addr)
	if code != 0 || !strings.Contains(stdout, `received "echo: ping 2" from `+addr) ||
		!strings.Contains(stdout, "send 2000 bytes: datagram-too-large") {
		t.Fatalf("allowed: code %d, stdout:\n%s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, guest, addr)
	if code != 0 || !strings.Contains(stdout, "bind an ephemeral port: access-denied") {
		t.Fatalf("denied: code %d, stdout:\n%s\nstderr: %s", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "--allow-udp", "example.com:53", guest, addr)
	if code != 1 || !strings.Contains(stderr, "names are not allowed") {
		t.Fatalf("a name in a UDP rule: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--max-datagram", "70000", guest, addr)
	if code != 1 || !strings.Contains(stderr, "--max-datagram") {
		t.Fatalf("--max-datagram 70000: code %d, stderr %q", code, stderr)
	}
}
