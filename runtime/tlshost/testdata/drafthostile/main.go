//go:build wasip1

// Command drafthostile uses the upstream draft (wasi:tls/types@0.2.0-draft)
// a hostile guest's way, one scenario per run:
//
//	drafthostile MODE HOST PORT [ARG...]
//
// Each scenario prints what the host answered and "done" at its end.
package main

import (
	"bufio"
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

var (
	host  string
	extra []string // the arguments after PORT
)

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
	// Waits without a bound of the guest's own on a peer that completed
	// the handshake and then neither sends nor reads: a blocking read,
	// and a blocking flush of a full output. It prints "blocking" and
	// blocks until the embedder stops it.
	"block-read": func(port uint16) {
		_, in, out := dial(port)
		_, _, cin, _, err := handshake(in, out)
		must("handshake", err)
		fmt.Println("blocking")
		_, err = cin.BlockingRead(1)
		fmt.Println("blocking-read returned:", err)
	},
	"block-flush": func(port uint16) {
		_, in, out := dial(port)
		_, _, _, cout, err := handshake(in, out)
		must("handshake", err)
		fill(cout)
		fmt.Println("blocking")
		err = cout.BlockingWriteAndFlush(make([]byte, 4096))
		fmt.Println("blocking-write-and-flush returned:", err)
	},
	// Misuse the WIT forbids, each of which must trap the guest with a
	// reason: it prints "trap next: " and what it does, then does it.
	// finish consumes the handshake: finishing it again.
	"finish-twice": func(port uint16) {
		_, in, out := dial(port)
		h := tlsdraft.NewClientHandshake(host, in, out)
		tlsdraft.ClientHandshakeFinish(h)
		fmt.Println("trap next: finish twice")
		tlsdraft.ClientHandshakeFinish(h)
	},
	// Dropping a handshake finish consumed.
	"drop-finished": func(port uint16) {
		_, in, out := dial(port)
		h := tlsdraft.NewClientHandshake(host, in, out)
		tlsdraft.ClientHandshakeFinish(h)
		fmt.Println("trap next: drop a finished handshake")
		h.Drop()
	},
	// The raw streams move into the handshake: using them after.
	"stream-moved": func(port uint16) {
		_, in, out := dial(port)
		tlsdraft.NewClientHandshake(host, in, out)
		fmt.Println("trap next: write to a moved stream")
		out.CheckWrite()
	},
	// One stream given as both: the output is an input stream's handle.
	"same-stream": func(port uint16) {
		_, in, _ := dial(port)
		fmt.Println("trap next: an input stream as the output")
		tlsdraft.NewClientHandshake(host, in, wio.OutputStream(in))
	},
	// The connection dropped while its streams live.
	"drop-connection-first": func(port uint16) {
		_, in, out := dial(port)
		_, c, _, _, err := handshake(in, out)
		must("handshake", err)
		fmt.Println("trap next: drop the connection before its streams")
		c.Drop()
	},
	// The future dropped while its pollable lives.
	"drop-future-first": func(port uint16) {
		_, in, out := dial(port)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		f.Subscribe()
		fmt.Println("trap next: drop the future before its pollable")
		f.Drop()
	},
	// The future used after it was dropped.
	"get-dropped": func(port uint16) {
		_, in, out := dial(port)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		f.Drop()
		fmt.Println("trap next: get on a dropped future")
		f.Get()
	},
	// close-output on a dropped connection.
	"close-output-dropped": func(port uint16) {
		_, in, out := dial(port)
		_, c, cin, cout, err := handshake(in, out)
		must("handshake", err)
		cin.Drop()
		cout.Drop()
		c.Drop()
		fmt.Println("trap next: close-output on a dropped connection")
		c.CloseOutput()
	},
	// N handshakes to a server sending a large chain, each connection
	// kept: it prints "ready", and on "go" makes them and prints how
	// many it kept and the first failure; on "drop" it drops one and
	// makes another; at the end of its input it drops them all.
	"chains": func(port uint16) {
		n, err := strconv.Atoi(extra[0])
		must("N", err)
		stdin := bufio.NewScanner(os.Stdin)
		fmt.Println("ready")
		stdin.Scan()
		type kept struct {
			sock sockets.TCPSocket
			c    tlsdraft.ClientConnection
			in   wio.InputStream
			out  wio.OutputStream
		}
		var held []kept
		connect := func() error {
			sock, in, out := dial(port)
			f, c, cin, cout, err := handshake(in, out)
			f.Drop()
			if err != nil {
				sock.Drop()
				return errors.New(streamErr(err))
			}
			held = append(held, kept{sock, c, cin, cout})
			return nil
		}
		var first error
		for range n {
			if err := connect(); err != nil && first == nil {
				first = err
			}
		}
		fmt.Printf("kept %d, failed %d: %v\n", len(held), n-len(held), first)
		for stdin.Scan() {
			if stdin.Text() == "drop" && len(held) > 0 {
				k := held[0]
				held = held[1:]
				k.in.Drop()
				k.out.Drop()
				k.c.Drop()
				k.sock.Drop()
				if err := connect(); err != nil {
					fmt.Println("after drop:", err)
				} else {
					fmt.Println("after drop: ok")
				}
			}
		}
		for _, k := range held {
			k.in.Drop()
			k.out.Drop()
			k.c.Drop()
			k.sock.Drop()
		}
	},
	// Draft handshakes to a silent peer (PORT) held pending until the
	// host refuses one.
	"pending": func(port uint16) { hog(host, port) },
	// The same with server names of 254 bytes, the most the host takes
	// (a DNS name's 253 and a trailing dot); then a name one byte
	// longer, and an empty one.
	"names": func(port uint16) {
		hog(dnsName(254), port)
		for _, n := range []int{255, 0} {
			name := ""
			if n > 0 {
				name = dnsName(n)
			}
			if d, err := start(name, port); err != nil {
				fmt.Printf("a name of %d bytes: %v\n", n, err)
			} else {
				fmt.Printf("a name of %d bytes: admitted\n", n)
				d.drop()
			}
		}
	},
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
	// full-get K: drops its socket once the handshake completed (the
	// streams hold the connection), holds K clock pollables (the host's
	// handle limit leaves room for one handle more), then takes the
	// handshake's result: a connection and its two streams.
	"full-get": func(port uint16) {
		sock, in, out := dial(port)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		wasinet.Await(f.Subscribe())
		sock.Drop()
		k, err := strconv.Atoi(extra[0])
		must("K", err)
		for range k {
			clocks.SubscribeDuration(clocks.Duration(time.Hour))
		}
		fmt.Println("getting")
		_, _, _, ready, err := f.Get()
		fmt.Println("got:", ready, err)
	},
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

// pendingDraft is one of the guest's draft handshakes to a silent peer.
type pendingDraft struct {
	sock sockets.TCPSocket
	f    tlsdraft.FutureClientStreams
}

func (d pendingDraft) drop() {
	d.f.Drop()
	d.sock.Drop()
}

// start makes a draft handshake for name to port and finishes it: it
// returns the handshake when it is still running after 50 ms, or the
// reason the host refused it.
func start(name string, port uint16) (pendingDraft, error) {
	sock, in, out := dial(port)
	f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(name, in, out))
	p := f.Subscribe()
	timer := clocks.SubscribeDuration(clocks.Duration(50 * time.Millisecond))
	ready := wio.Poll([]wio.Pollable{p, timer})
	p.Drop()
	timer.Drop()
	if len(ready) == 1 && ready[0] == 1 {
		return pendingDraft{sock, f}, nil
	}
	_, _, _, _, err := f.Get()
	f.Drop()
	sock.Drop()
	if err == nil {
		err = errors.New("a handshake with a silent peer completed")
	}
	return pendingDraft{}, errors.New(streamErr(err))
}

// hog makes draft handshakes for name to port until the host refuses one
// (at most 10,000), prints how many it admitted and why it refused the
// next, then checks that dropping one makes room for another.
func hog(name string, port uint16) {
	var held []pendingDraft
	var err error
	for len(held) < 10000 {
		var d pendingDraft
		if d, err = start(name, port); err != nil {
			break
		}
		held = append(held, d)
	}
	fmt.Printf("admitted %d, then: %v\n", len(held), err)
	if len(held) > 0 {
		held[0].drop()
		if d, err := start(name, port); err != nil {
			fmt.Println("after a drop:", err)
		} else {
			fmt.Println("after a drop: admitted")
			held[0] = d
		}
	}
	for _, d := range held {
		d.drop()
	}
}

// dnsName is a name of n bytes (n > 1), labels of 63 bytes at most.
func dnsName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
		if i%64 == 63 && i < n-1 {
			b[i] = '.'
		}
	}
	return string(b)
}

func main() {
	if len(os.Args) < 4 {
		fmt.Println("usage: drafthostile MODE HOST PORT [ARG...]")
		os.Exit(2)
	}
	host, extra = os.Args[2], os.Args[4:]
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
