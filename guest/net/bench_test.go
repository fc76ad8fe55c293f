//go:build !wasip1

package wasinet_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// roundTrips does n one-byte round trips over c.
func roundTrips(b *testing.B, c net.Conn, n int) time.Duration {
	buf := []byte{'x'}
	start := time.Now()
	for range n {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkEchoRoundTrip measures one-byte round trips from a host client
// to a guest echo server (wasinet over the runtime's wasi:sockets, every
// wait going through the guest's poller) and, in the same run, to a native
// Go echo server and to a guest echoing with blocking host calls (no
// poller: the runtime's own cost). It reports the poller guest's time per
// round trip as ns/op, and its ratios to native (x-native) and to the
// blocking guest (x-blocking).
func BenchmarkEchoRoundTrip(b *testing.B) {
	native := listen(b, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
	nc, err := net.Dial("tcp", native)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()

	gc, gdone := startGuest(b, "echoserve", "1")
	bc, bdone := startGuest(b, "echoblock")
	roundTrips(b, gc, 100) // warm up
	roundTrips(b, bc, 100)
	roundTrips(b, nc, 100)

	b.ResetTimer()
	guest := roundTrips(b, gc, b.N)
	b.StopTimer()
	base := roundTrips(b, nc, b.N)
	blocking := roundTrips(b, bc, b.N)
	gc.Close()
	bc.Close()
	for _, done := range []chan error{gdone, bdone} {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "native-ns/op")
	b.ReportMetric(float64(blocking.Nanoseconds())/float64(b.N), "blocking-ns/op")
	b.ReportMetric(float64(guest)/float64(base), "x-native")
	b.ReportMetric(float64(guest)/float64(blocking), "x-blocking")
}

// startGuest runs the nettest guest with args, which prints the address it
// listens on, and connects to it.
func startGuest(b *testing.B, args ...string) (net.Conn, chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := run(b, pw, nil, []string{"127.0.0.1:0"}, args...)
		pw.Close()
		done <- err
	}()
	addr, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		b.Fatalf("no address from guest: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	c, err := net.Dial("tcp", strings.TrimSpace(addr))
	if err != nil {
		b.Fatal(err)
	}
	return c, done
}
