package testnet

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestServeUDPAndTCP: one address answers datagrams with reply and
// connections with handle.
func TestServeUDPAndTCP(t *testing.T) {
	addr := ServeUDPAndTCP(t, func(d []byte) []byte { return append([]byte("udp "), d...) }, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, "tcp")
	})
	u, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	u.Write([]byte("hi"))
	buf := make([]byte, 16)
	if n, err := u.Read(buf); err != nil || string(buf[:n]) != "udp hi" {
		t.Fatalf("over UDP: %q, %v; want \"udp hi\"", buf[:n], err)
	}
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(c); err != nil || string(got) != "tcp" {
		t.Fatalf("over TCP: %q, %v; want \"tcp\"", got, err)
	}
}

// TestListenUDPAndTCPTakenPort: a UDP port whose TCP half is taken is
// let go and another tried; the pair returned is on a port free for both.
func TestListenUDPAndTCPTakenPort(t *testing.T) {
	const taken = 3
	var busy []int
	calls := 0
	listenUDP := func() (net.PacketConn, error) {
		calls++
		if calls > taken {
			return net.ListenPacket("udp4", "127.0.0.1:0")
		}
		// A UDP port whose TCP half a listener holds.
		for {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { ln.Close() })
			port := ln.Addr().(*net.TCPAddr).Port
			if pc, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				busy = append(busy, port)
				return pc, nil
			}
		}
	}
	pc, ln := listenUDPAndTCP(t, listenUDP)
	defer pc.Close()
	defer ln.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	if ln.Addr().(*net.TCPAddr).Port != port {
		t.Fatalf("UDP on %v, TCP on %v: want one port", pc.LocalAddr(), ln.Addr())
	}
	if calls != taken+1 {
		t.Fatalf("%d UDP sockets made, want %d", calls, taken+1)
	}
	for _, p := range busy {
		if p == port {
			t.Fatalf("the pair is on port %d, whose TCP half is taken", p)
		}
		// The UDP socket on a taken port was closed.
		again, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("UDP port %d still held: %v", p, err)
		}
		again.Close()
	}
}
