//go:build wasip1

// Command drafthostile uses the upstream draft (wasi:tls/types@0.2.0-draft)
// a hostile guest's way, one scenario per run:
//
//	drafthostile MODE HOST PORT
//
// Each scenario prints what the host answered and "done" at its end.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
	wio "github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
)

var host string

func dial(port uint16) (sockets.TCPSocket, wio.InputStream, wio.OutputStream) {
	sock, in, out, err := wasinet.Dial(host, port)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	return sock, in, out
}

// handshake runs the draft's handshake to port and returns its future,
// ready, and what it got.
func handshake(in wio.InputStream, out wio.OutputStream) (tlsdraft.FutureClientStreams, tlsdraft.ClientConnection, wio.InputStream, wio.OutputStream, error) {
	f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
	wasinet.Await(f.Subscribe())
	c, cin, cout, ready, err := f.Get()
	if !ready {
		fmt.Println("get: not ready after the pollable was")
		os.Exit(1)
	}
	return f, c, cin, cout, err
}

func must(what string, err error) {
	if err != nil {
		fmt.Printf("%s: %v\n", what, err)
		os.Exit(1)
	}
}

// streamErr is err's message, its wasi:io error dropped.
func streamErr(err error) string {
	var se *wio.StreamError
	if errors.As(err, &se) {
		defer se.Drop()
	}
	var he *tlsdraft.HandshakeError
	if errors.As(err, &he) {
		defer he.Drop()
	}
	return err.Error()
}

// fill writes to out until it takes no more for 300 ms, at most 64 MiB,
// and returns how much it took.
func fill(out wio.OutputStream) int {
	buf := make([]byte, 64<<10)
	n := 0
	for n < 64<<20 {
		k, err := out.CheckWrite()
		if err != nil {
			fmt.Println("check-write:", streamErr(err))
			return n
		}
		if k == 0 {
			p := out.Subscribe()
			timer := clocks.SubscribeDuration(clocks.Duration(300 * time.Millisecond))
			ready := wio.Poll([]wio.Pollable{p, timer})
			p.Drop()
			timer.Drop()
			if len(ready) == 1 && ready[0] == 1 {
				return n
			}
			continue
		}
		k = min(k, uint64(len(buf)))
		if err := out.Write(buf[:k]); err != nil {
			fmt.Println("write:", streamErr(err))
			return n
		}
		n += int(k)
	}
	return n
}

var scenarios = map[string]func(port uint16){
	// The handshake with whatever the peer does: it prints "handshake
	// ok" or "handshake failed: " and the host's reason, then, once it
	// got streams, reads until the stream ends or fails and prints that.
	"handshake": func(port uint16) {
		sock, in, out := dial(port)
		start := clocks.Now()
		f, c, cin, cout, err := handshake(in, out)
		took := time.Duration(clocks.Now() - start).Round(100 * time.Millisecond)
		f.Drop()
		if err != nil {
			fmt.Printf("handshake failed after %v: %s\n", took, streamErr(err))
			sock.Drop()
			return
		}
		fmt.Println("handshake ok")
		n := 0
		for {
			b, err := cin.BlockingRead(64 << 10)
			n += len(b)
			if err != nil {
				fmt.Printf("read %d bytes, then: %s\n", n, streamErr(err))
				break
			}
		}
		cin.Drop()
		cout.Drop()
		c.Drop()
		sock.Drop()
	},
	// A peer that completed the handshake and reads nothing: the guest
	// fills its output and calls close-output, which must return.
	"close-output-stuck": func(port uint16) {
		sock, in, out := dial(port)
		f, c, cin, cout, err := handshake(in, out)
		must("handshake", err)
		f.Drop()
		n := fill(cout)
		fmt.Printf("filled %d bytes\n", n)
		start := clocks.Now()
		c.CloseOutput()
		fmt.Printf("close-output returned after %v\n", time.Duration(clocks.Now()-start).Round(time.Second))
		if _, err := cout.CheckWrite(); err != nil {
			fmt.Println("check-write after close-output:", streamErr(err))
		} else {
			fmt.Println("check-write after close-output: ok")
		}
		cin.Drop()
		cout.Drop()
		c.Drop()
		sock.Drop()
	},
}

func main() {
	if len(os.Args) != 4 {
		fmt.Println("usage: drafthostile MODE HOST PORT")
		os.Exit(2)
	}
	host = os.Args[2]
	port, err := strconv.ParseUint(os.Args[3], 10, 16)
	must("port", err)
	run, ok := scenarios[os.Args[1]]
	if !ok {
		fmt.Println("no scenario", os.Args[1])
		os.Exit(2)
	}
	run(uint16(port))
	fmt.Println("done")
}
