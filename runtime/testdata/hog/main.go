// Command hog tries to make the host hold more than it should:
//
//	hog pollables N   creates N clock pollables and drops none
//	hog sockets N     creates N TCP sockets and drops none; at the first
//	                  that fails, tries once more, printing "again:
//	                  error E" on stderr
//	hog alloc MIB     allocates and touches MIB MiB of memory, 0 for no end
//	hog queue BACKLOG   listens on 127.0.0.1 with BACKLOG, prints "port P",
//	                    accepts nothing until a line on stdin, then accepts
//	                    until an error other than would-block (which it
//	                    retries for up to 30 s: the host may still be
//	                    queueing), prints "accepted K, then error E" and
//	                    holds the connections until stdin ends
//	hog bound BACKLOG   binds a TCP socket to 127.0.0.1, prints "port P",
//	                    waits for a line on stdin, then listens with
//	                    BACKLOG, prints "listening" and accepts nothing
//	                    until stdin ends
//	hog binds N         binds TCP sockets to 127.0.0.1 (a descriptor
//	                    each), up to N, prints "bound N", or "bound K,
//	                    then error E" at the first create-tcp-socket or
//	                    bind that fails, then holds them until stdin
//	                    ends; or, with a negative N, up to -N and traps
//	                    (dropping a handle it does not hold) instead
//	hog opens N         opens the file "f" of its first preopen for
//	                    reading through wasi:filesystem's open-at, up to
//	                    N times, prints "opened N", or "opened K, then
//	                    error E" (E a wasi:filesystem error-code) at the
//	                    first that fails, then holds them until stdin
//	                    ends; or, with a negative N, up to -N and traps
//	                    instead
//	hog p1opens N       as opens, through wasi_snapshot_preview1's
//	                    path_open (os.Open of /data/f), E an errno
//	hog udp N           binds N UDP sockets on 127.0.0.1, prints their
//	                    ports on one line, receives nothing until a line
//	                    on stdin and for 500 ms after it, then everything
//	                    queued, and prints "received B bytes"
//	hog recurse N       recurses N Go calls deep, and prints "recursed N"
//	hog stdin N         prints "reading", reads its standard input to the
//	                    end, N bytes at a time, then prints "read B bytes"
//	hog write N         prints "writing" on stderr, writes N bytes to its
//	                    standard output in one write, then prints "wrote K"
//	                    on stderr
//	hog sleep N         prints "sleeping", sleeps N seconds (the Go runtime
//	                    waits in wasi_snapshot_preview1's poll_oneoff), then
//	                    prints "slept"
//	hog lookups N NAME  starts N lookups and drops none, of NAME with %d
//	                    replaced by the lookup's number, then waits 500 ms;
//	                    at the first that fails, tries once more, printing
//	                    "again: error E" on stderr
//	hog inflight N NAME starts up to N lookups of NAME, %d replaced by
//	                    the lookup's number, drops none, prints "lookups
//	                    N", or "lookups K, then error E" at the first
//	                    that fails, then waits for stdin to end
//	hog hold N NAME     looks up NAME N times, %d replaced by the
//	                    lookup's number, each to its end, reading and
//	                    dropping none, prints "held N" (or "lookup I:
//	                    error E" at the first resolve-addresses that
//	                    fails), then waits for stdin to end
//	hog resolve N NAME  looks up NAME N times, %d replaced by the
//	                    lookup's number, each to its end, dropping each
//	                    stream, prints "resolved N: A addresses", then
//	                    waits for stdin to end
//	hog linger PORT     connects to 127.0.0.1:PORT, writes until the
//	                    output stream takes no more (the peer reads
//	                    nothing), drops the streams and the socket, then
//	                    creates a TCP socket every 10 ms until one is
//	                    made, printing "socket again after D ms", or for
//	                    10 s, printing "no socket: error E"
//	hog unsent N PORT   connects N sockets with send buffers of 4 KiB
//	                    to 127.0.0.1:PORT, writes to
//	                    each, within each permit check-write grants,
//	                    until it grants nothing (the peer reads nothing),
//	                    prints "blocked N: least permit L", then, after a
//	                    line on stdin, waits for the first socket's
//	                    output stream and writes it 1 MiB more, printing
//	                    "continued B", drops everything and prints
//	                    "closed"
//	hog dupes N K       listens on K sockets on 127.0.0.1, polls each
//	                    listener's pollable N times over beside a 300 ms
//	                    timer (nobody connects), prints "polled K", then
//	                    waits for stdin to end
//	hog exit N          exits with code N (proc_exit(uint32(N)): -1 is
//	                    0xffffffff, the code wazero gives a cancelled
//	                    context)
//
// It prints one line per step reached, so that a test sees how far it got
// before a limit stopped it.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 subscribe-duration
func subscribeDuration(d uint64) uint32

func main() {
	if len(os.Args) != 3 && !(len(os.Args) == 4 && (os.Args[1] == "lookups" || os.Args[1] == "inflight" || os.Args[1] == "resolve" || os.Args[1] == "hold" || os.Args[1] == "dupes" || os.Args[1] == "unsent")) {
		fmt.Fprintln(os.Stderr, "usage: hog MODE N, or hog lookups|inflight|resolve|hold|dupes|unsent N ARG (the modes: see the package doc)")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "exit":
		os.Exit(n)
	case "pollables":
		for i := 1; i <= n; i++ {
			subscribeDuration(uint64(time.Hour))
			if i%100000 == 0 || i == n {
				fmt.Printf("pollables %d\n", i)
			}
		}
	case "linger":
		network := w.Network()
		sock, _ := w.CreateTCP4()
		if code := w.StartConnect(sock, network, w.Addr{IP: [4]byte{127, 0, 0, 1}, Port: uint16(n)}); code != 0 {
			fmt.Printf("connect: error %d\n", code)
			return
		}
		var in, out, code uint32
		for {
			if in, out, code = w.FinishConnect(sock); code != 8 { // would-block
				break
			}
			p := w.TCPSubscribe(sock)
			w.Block(p)
			w.DropPollable(p)
		}
		if code != 0 {
			fmt.Printf("connect: error %d\n", code)
			return
		}
		chunk := make([]byte, 64<<10)
		for written := 0; ; written += len(chunk) {
			room, err := w.CheckWrite(out)
			if err != nil || written > 256<<20 {
				fmt.Printf("write: %v after %d bytes\n", err, written)
				return
			}
			if room == 0 {
				break
			}
			if err := w.Write(out, chunk[:min(room, uint64(len(chunk)))]); err != nil {
				fmt.Printf("write: %v\n", err)
				return
			}
		}
		w.DropInput(in)
		w.DropOutput(out)
		w.DropTCP(sock)
		dropped := time.Now()
		for {
			s, code := w.CreateTCP4()
			if code == 0 {
				w.DropTCP(s)
				fmt.Printf("socket again after %d ms\n", time.Since(dropped).Milliseconds())
				return
			}
			if time.Since(dropped) > 10*time.Second {
				fmt.Printf("no socket: error %d\n", code)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "unsent":
		port, _ := strconv.Atoi(os.Args[3])
		network := w.Network()
		type conn struct{ sock, in, out uint32 }
		var conns []conn
		for i := range n {
			sock, _ := w.CreateTCP4()
			// A small send buffer: the kernel takes little, the host's
			// queue the rest of each write.
			if code := w.SetSendBuffer(sock, 4096); code != 0 {
				fmt.Printf("send buffer %d: error %d\n", i, code)
				return
			}
			if code := w.StartConnect(sock, network, w.Addr{IP: [4]byte{127, 0, 0, 1}, Port: uint16(port)}); code != 0 {
				fmt.Printf("connect %d: error %d\n", i, code)
				return
			}
			var in, out, code uint32
			for {
				if in, out, code = w.FinishConnect(sock); code != 8 { // would-block
					break
				}
				p := w.TCPSubscribe(sock)
				w.Block(p)
				w.DropPollable(p)
			}
			if code != 0 {
				fmt.Printf("connect %d: error %d\n", i, code)
				return
			}
			conns = append(conns, conn{sock, in, out})
		}
		chunk := make([]byte, 64<<10)
		least := uint64(len(chunk))
		for i, c := range conns {
			for written := 0; ; {
				room, err := w.CheckWrite(c.out)
				if err != nil || written > 256<<20 {
					fmt.Printf("socket %d: write: %v after %d bytes\n", i, err, written)
					return
				}
				if room == 0 {
					break
				}
				least = min(least, room)
				k := min(room, uint64(len(chunk)))
				if err := w.Write(c.out, chunk[:k]); err != nil {
					fmt.Printf("socket %d: write: %v\n", i, err)
					return
				}
				written += int(k)
			}
		}
		fmt.Printf("blocked %d: least permit %d\n", len(conns), least)
		bufio.NewReader(os.Stdin).ReadString('\n')
		more, out := 0, conns[0].out
		for more < 1<<20 {
			p := w.OutSubscribe(out)
			w.Block(p)
			w.DropPollable(p)
			room, err := w.CheckWrite(out)
			if err != nil {
				fmt.Printf("write: %v after %d bytes more\n", err, more)
				return
			}
			k := min(room, uint64(len(chunk)), uint64(1<<20-more))
			if err := w.Write(out, chunk[:k]); err != nil {
				fmt.Printf("write: %v\n", err)
				return
			}
			more += int(k)
		}
		fmt.Printf("continued %d\n", more)
		for _, c := range conns {
			w.DropInput(c.in)
			w.DropOutput(c.out)
			w.DropTCP(c.sock)
		}
		fmt.Println("closed")
	case "sockets":
		for i := 1; i <= n; i++ {
			if _, code := w.CreateTCP4(); code != 0 {
				fmt.Printf("socket %d: error %d\n", i, code)
				_, code = w.CreateTCP4()
				fmt.Fprintf(os.Stderr, "again: error %d\n", code)
				return
			}
		}
		fmt.Printf("sockets %d\n", n)
	case "dupes":
		k, _ := strconv.Atoi(os.Args[3])
		network := w.Network()
		for range k {
			ls, _ := w.CreateTCP4()
			for _, code := range []uint32{
				w.StartBind(ls, network, w.Addr{IP: [4]byte{127, 0, 0, 1}}), w.FinishBind(ls),
				w.StartListen(ls), w.FinishListen(ls),
			} {
				if code != 0 {
					fmt.Printf("listen: error %d\n", code)
					return
				}
			}
			p := w.TCPSubscribe(ls)
			list := make([]uint32, n+1)
			for i := range n {
				list[i] = p
			}
			list[n] = subscribeDuration(uint64(300 * time.Millisecond))
			if ready := w.Poll(list); len(ready) != 1 || ready[0] != uint32(n) {
				fmt.Printf("poll: ready %v\n", ready)
				return
			}
			w.DropPollable(list[n])
		}
		fmt.Printf("polled %d\n", k)
		io.Copy(io.Discard, os.Stdin)
	case "queue":
		network := w.Network()
		ls, _ := w.CreateTCP4()
		for _, code := range []uint32{
			w.StartBind(ls, network, w.Addr{IP: [4]byte{127, 0, 0, 1}}), w.FinishBind(ls),
			w.SetBacklog(ls, uint64(n)), w.StartListen(ls), w.FinishListen(ls),
		} {
			if code != 0 {
				fmt.Printf("listen: error %d\n", code)
				return
			}
		}
		port, _ := w.LocalPort(ls)
		fmt.Printf("port %d\n", port)
		stdin := bufio.NewReader(os.Stdin)
		stdin.ReadString('\n')
		k := 0
		giveUp := time.Now().Add(30 * time.Second)
		for {
			_, _, _, code := w.Accept(ls)
			if code == w.WouldBlock && time.Now().Before(giveUp) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if code != 0 {
				fmt.Printf("accepted %d, then error %d\n", k, code)
				break
			}
			k++
		}
		io.Copy(io.Discard, stdin)
	case "bound":
		network := w.Network()
		ls, _ := w.CreateTCP4()
		if code := w.StartBind(ls, network, w.Addr{IP: [4]byte{127, 0, 0, 1}}); code != 0 {
			fmt.Printf("bind: error %d\n", code)
			return
		}
		if code := w.FinishBind(ls); code != 0 {
			fmt.Printf("bind: error %d\n", code)
			return
		}
		port, _ := w.LocalPort(ls)
		fmt.Printf("port %d\n", port)
		stdin := bufio.NewReader(os.Stdin)
		stdin.ReadString('\n')
		for _, code := range []uint32{w.SetBacklog(ls, uint64(n)), w.StartListen(ls), w.FinishListen(ls)} {
			if code != 0 {
				fmt.Printf("listen: error %d\n", code)
				return
			}
		}
		fmt.Println("listening")
		io.Copy(io.Discard, stdin)
	case "binds":
		network := w.Network()
		bound, code := 0, uint32(0)
		for bound < max(n, -n) {
			s, c := w.CreateTCP4()
			if code = c; code != 0 {
				break
			}
			if code = w.StartBind(s, network, w.Addr{IP: [4]byte{127, 0, 0, 1}}); code != 0 {
				break
			}
			if code = w.FinishBind(s); code != 0 {
				break
			}
			bound++
		}
		holdCount("bound", bound, code, n < 0)
	case "opens":
		dir := w.Preopens()[0].FD
		opened, code := 0, uint32(0)
		for ; opened < max(n, -n); opened++ {
			if _, c := w.OpenAt(dir, 0, "f", 0, w.FlagRead); c >= 0 {
				code = uint32(c)
				break
			}
		}
		holdCount("opened", opened, code, n < 0)
	case "p1opens":
		var held []*os.File
		code := uint32(0)
		for len(held) < max(n, -n) {
			f, err := os.Open("/data/f")
			if err != nil {
				var errno syscall.Errno
				if !errors.As(err, &errno) {
					panic(err)
				}
				code = uint32(errno)
				break
			}
			held = append(held, f)
		}
		holdCount("opened", len(held), code, n < 0)
	case "udp":
		network := w.Network()
		var ports []string
		var socks []uint32
		for range n {
			s, code := w.CreateUDP4()
			if code == 0 {
				code = w.UDPBind(s, network, w.Addr{IP: [4]byte{127, 0, 0, 1}})
			}
			if code != 0 {
				fmt.Printf("udp: error %d\n", code)
				return
			}
			socks = append(socks, s)
			ports = append(ports, strconv.Itoa(int(w.UDPLocalPort(s))))
		}
		fmt.Println(strings.Join(ports, " "))
		// The line comes once the peer sent everything; the host's read
		// loops then have what the kernel still holds to read.
		bufio.NewReader(os.Stdin).ReadString('\n')
		time.Sleep(500 * time.Millisecond)
		received := 0
		for _, s := range socks {
			in, _, code := w.UDPStream(s, nil)
			for code == 0 {
				ds, c := w.Receive(in, 100)
				if c != 0 || len(ds) == 0 {
					break
				}
				for _, d := range ds {
					received += len(d.Data)
				}
			}
		}
		fmt.Printf("received %d bytes\n", received)
	case "lookups":
		network := w.Network()
		for i := 1; i <= n; i++ {
			if _, code := w.Resolve(network, strings.ReplaceAll(os.Args[3], "%d", strconv.Itoa(i))); code != 0 {
				fmt.Printf("lookup %d: error %d\n", i, code)
				_, code = w.Resolve(network, strings.ReplaceAll(os.Args[3], "%d", strconv.Itoa(i)))
				fmt.Fprintf(os.Stderr, "again: error %d\n", code)
				time.Sleep(500 * time.Millisecond)
				return
			}
		}
		fmt.Printf("lookups %d\n", n)
	case "inflight":
		network := w.Network()
		started, code := 0, uint32(0)
		for started < n {
			if _, code = w.Resolve(network, strings.ReplaceAll(os.Args[3], "%d", strconv.Itoa(started+1))); code != 0 {
				break
			}
			started++
		}
		printCount("lookups", started, code)
		io.Copy(io.Discard, os.Stdin)
	case "hold":
		network := w.Network()
		held := 0
		for i := 1; i <= n; i++ {
			s, code := w.Resolve(network, strings.ReplaceAll(os.Args[3], "%d", strconv.Itoa(i)))
			if code != 0 {
				fmt.Printf("lookup %d: error %d\n", i, code)
				break
			}
			w.ResolveWait(s)
			held++
		}
		if held == n {
			fmt.Printf("held %d\n", n)
		}
		io.Copy(io.Discard, os.Stdin)
	case "resolve":
		network := w.Network()
		addrs := 0
		for i := 1; i <= n; i++ {
			s, code := w.Resolve(network, strings.ReplaceAll(os.Args[3], "%d", strconv.Itoa(i)))
			k := 0
			if code == 0 {
				k, code = w.ResolveAll(s)
			}
			if code != 0 {
				fmt.Printf("lookup %d: error %d\n", i, code)
				return
			}
			addrs += k
		}
		fmt.Printf("resolved %d: %d addresses\n", n, addrs)
		io.Copy(io.Discard, os.Stdin)
	case "stdin":
		fmt.Println("reading")
		b, total := make([]byte, n), 0
		for {
			k, err := os.Stdin.Read(b)
			total += k
			if err != nil {
				break
			}
		}
		fmt.Printf("read %d bytes\n", total)
	case "write":
		fmt.Fprintln(os.Stderr, "writing")
		k, _ := os.Stdout.Write(make([]byte, n))
		fmt.Fprintf(os.Stderr, "wrote %d\n", k)
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Duration(n) * time.Second)
		fmt.Println("slept")
	case "recurse":
		fmt.Printf("recursed %d\n", recurse(n))
	case "alloc":
		const chunk = 16 << 20
		var held [][]byte
		for mib := chunk >> 20; n == 0 || mib <= n; mib += chunk >> 20 {
			b := make([]byte, chunk)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			held = append(held, b)
			fmt.Printf("allocated %d MiB\n", mib)
		}
	}
}

// recurse calls itself n deep, each frame holding a little of its own.
//
//go:noinline
func recurse(n int) int {
	if n == 0 {
		return 0
	}
	var pad [4]int
	pad[n%4] = n
	return recurse(n-1) + 1 + pad[0]*0
}

// holdCount prints as printCount does, then traps (dropping a handle
// the guest does not hold) if trap is set, or else holds what it made
// until stdin ends.
func holdCount(what string, k int, code uint32, trap bool) {
	printCount(what, k, code)
	if trap {
		w.DropInput(999999)
	}
	io.Copy(io.Discard, os.Stdin)
}

// printCount prints "WHAT K", and ", then error CODE" when code is not 0.
func printCount(what string, k int, code uint32) {
	if code != 0 {
		fmt.Printf("%s %d, then error %d\n", what, k, code)
	} else {
		fmt.Printf("%s %d\n", what, k)
	}
}
