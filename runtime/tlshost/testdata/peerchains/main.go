//go:build wasip1

// Command peerchains makes TLS client handshakes to a server sending a
// large chain and keeps every connection, to see what the host holds for
// them:
//
//	peerchains fail HOST PORT WARM N
//
// makes WARM handshakes and prints "warm WARM", waits for a line on its
// standard input, makes N more and prints "held N"; each handshake must
// fail (the first one's error is printed as "failed: ERROR (last error:
// REASON)").
//
//	peerchains fill HOST PORT N
//
// prints "ready" and waits for a line on its standard input, then makes N
// handshakes, keeping those that complete, and prints "kept K, failed F:
// REASON" (the first failure's client-last-error); it waits for another
// line, drops the first connection it kept and makes one more handshake,
// printing "after drop: ok" or "after drop: REASON".
//
//	peerchains churn HOST PORT N
//
// prints "ready" and waits for a line on its standard input, then makes N
// handshakes, one after another, each reading what the server sends
// first, keeping those that resumed a session or failed and dropping
// the others, and prints "kept K resumed, dropped D, failed F: REASON"
// (the first failure's client-last-error); a client pool whose server
// closes the connections of its full handshakes does the same.
//
//	peerchains serve NAME N
//
// listens on a free loopback port with the host's identity NAME,
// printing "listening on 127.0.0.1:PORT", and accepts N connections,
// asking each client for a certificate and keeping those whose handshake
// completes; it prints "served K, failed F: ERROR" (the first failure).
//
//	peerchains pha NAME N R
//
// listens as serve does, without asking for client certificates in the
// handshake, and accepts N connections; it asks the first client for its
// certificate after the handshake R times, printing "warm: ok K, failed
// F: ERROR", waits for a line on its standard input, then asks each
// other client once, printing "pha: ok K, failed F: ERROR" (the first
// failure).
//
//	peerchains phadata NAME SIZE
//
// listens as pha does and accepts one connection; it asks the client for
// its certificate after the handshake while reading SIZE bytes of data
// from it, then prints "phadata: read N, chain C: ERROR" (the request's).
//
//	peerchains phafail NAME WARM N
//
// listens as pha does; it accepts WARM connections, and for each asks the
// client for its certificate after the handshake, a request that must
// fail, then reads from the connection, which must fail too; it prints
// "warm WARM", waits for a line on its standard input, does the same
// with N more and prints "phafail: request R, read D: ERROR" (the
// lengths of the first request's and the first read's errors, and the
// read's error). It keeps every connection.
//
//	peerchains phahold NAME N SIZE
//
// listens as pha does and accepts N connections; it asks each client for
// its certificate after the handshake, all at once, and reads nothing
// until it accepted one more connection and read a byte from it; then it
// reads SIZE bytes of data from each of the N in turn and prints
// "phahold: read R, ok K, failed F: ERROR" (R bytes in all, the first
// failed request's error).
//
//	peerchains verify HOST PORT N KEEP
//
// prints "ready" and waits for a line on its standard input, then makes N
// handshakes that call verify-server-identity and wait for its future.
// With KEEP "identity" it takes the server's public-identity and drops
// everything else (future, handshake, connection), keeping the identity;
// with KEEP "future" it keeps the handshake suspended with the future
// untaken until the host gives up on it, and takes the futures only once
// all N handshakes ended: before the next handshake, it waits for the
// connection's client-last-error, which the host sets as it gives up,
// for at most WAIT (a sixth argument, past the host's handshake timeout)
// from the handshake's start, since a handshake that failed records its
// reason only once its future is taken. It prints "verified V, failed F:
// REASON" (the first failure's client-last-error).
//
// Either way it keeps every connection (and its future or streams) and
// exits once its standard input ends.
//
//	peerchains hellos N
//
// listens on a free loopback port, printing "listening on
// 127.0.0.1:PORT", and accepts N connections one after another; for each
// it starts a server handshake, calls receive-client-hello and takes the
// client-hello, then waits up to 10 s for the host to give up on the
// handshake (its server-last-error set), never finishing it, and keeps
// everything (socket, connection, handshake, future, client-hello). It
// prints "hellos K of N: ERROR" (K hellos taken, the first failure's
// server-last-error) and exits once its standard input ends.
//
//	peerchains requests HOST PORT N
//
// makes N client handshakes one after another; for each it calls
// receive-client-identity-request and takes the request, then waits up to
// 10 s for the host to give up on the handshake (its client-last-error
// set), never answering or finishing, and keeps everything. It prints
// "requests K of N: ERROR" (K requests taken, the first failure's
// client-last-error) and exits once its standard input ends.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/examples/wasinet"
	wasitls "github.com/wasitls/wasitls/guest/tls"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

type held struct {
	conn tls.ClientConnection
	fut  tls.FutureStreams
	in   io.InputStream
	out  io.OutputStream
	ok   bool
}

func (h held) drop() {
	if h.ok {
		h.in.Drop()
		h.out.Drop()
	}
	h.fut.Drop()
	h.conn.Drop()
}

var host string
var port uint16

// connect dials host:port and starts a client handshake on the
// connection; the guest exits if either fails.
func connect() (sockets.TCPSocket, tls.ClientConnection, tls.ClientHandshake) {
	sock, in, out, err := wasinet.Dial(host, port)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		os.Exit(1)
	}
	conn := tls.NewClientConnection(in, out)
	hs, err := conn.Connect(host)
	if err != nil {
		fmt.Printf("connect: %v\n", err)
		os.Exit(1)
	}
	return sock, conn, hs
}

// handshake makes one handshake; reason is client-last-error when it
// failed.
func handshake() (h held, reason string) {
	_, conn, hs := connect()
	f := tls.ClientHandshakeFinish(hs)
	p := f.Subscribe()
	p.Block()
	p.Drop()
	h = held{conn: conn, fut: f}
	var ready bool
	var err error
	h.in, h.out, ready, err = f.Get()
	if !ready {
		fmt.Println("handshake: not ready after its pollable")
		os.Exit(1)
	}
	if err != nil {
		reason, _ := tlsext.ClientLastError(conn)
		return h, fmt.Sprintf("%v (last error: %s)", err, reason)
	}
	h.ok = true
	return h, ""
}

// listen listens on a free loopback port with the host's identity name,
// asking clients for certificates as auth says, and prints "listening on
// ADDRESS"; it exits the guest if it cannot.
func listen(name string, auth wasitls.ClientAuthType) net.Listener {
	id, err := wasitls.HostIdentity(name)
	if err != nil {
		fmt.Printf("host-identity: %v\n", err)
		os.Exit(1)
	}
	ln, err := wasitls.Listen("tcp", "127.0.0.1:0", &wasitls.Config{Identities: []*wasitls.Identity{id}, ClientAuth: auth})
	if err != nil {
		fmt.Printf("listen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return ln
}

// serve is the serve mode.
func serve(name string, n int) {
	ln := listen(name, wasitls.RequestClientCert)
	var conns []*wasitls.Conn
	var first error
	served := 0
	for range n {
		c, err := ln.Accept()
		if err != nil {
			fmt.Printf("accept: %v\n", err)
			os.Exit(1)
		}
		conn := c.(*wasitls.Conn)
		conns = append(conns, conn) // kept, never closed
		if err := conn.Handshake(); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		served++
	}
	fmt.Printf("served %d, failed %d: %v\n", served, n-served, first)
}

// awaitLastError waits up to 10 s for a connection's last error, which
// the host sets as it gives up on a handshake the guest never finishes
// (its handshake timeout), and returns it.
func awaitLastError(last func() (string, bool)) string {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if reason, failed := last(); failed {
			return reason
		}
	}
	return ""
}

// requests is the requests mode.
func requests(n int) {
	var kept []any
	var first string
	taken := 0
	for range n {
		sock, conn, hs := connect()
		f, err := hs.ReceiveClientIdentityRequest()
		if err != nil {
			fmt.Printf("receive-client-identity-request: %v\n", err)
			os.Exit(1)
		}
		wasinet.Await(f.Subscribe())
		req, some, _, err := f.Get()
		kept = append(kept, sock, conn, hs, f)
		if err == nil && some {
			taken++
			kept = append(kept, req)
		}
		reason := awaitLastError(func() (string, bool) { return tlsext.ClientLastError(conn) })
		if (err != nil || !some) && first == "" {
			first = reason
		}
	}
	fmt.Printf("requests %d of %d: %s\n", taken, n, first)
	_ = kept
}

// hellos is the hellos mode.
func hellos(n int) {
	ln, addr, err := wasinet.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Printf("listen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", addr)
	var kept []any
	var first string
	taken := 0
	for range n {
		sock, in, out, err := wasinet.Accept(ln)
		if err != nil {
			fmt.Printf("accept: %v\n", err)
			os.Exit(1)
		}
		conn := tls.NewServerConnection(in, out)
		hs, err := conn.Accept()
		if err != nil {
			fmt.Printf("server accept: %v\n", err)
			os.Exit(1)
		}
		f, err := hs.ReceiveClientHello()
		if err != nil {
			fmt.Printf("receive-client-hello: %v\n", err)
			os.Exit(1)
		}
		wasinet.Await(f.Subscribe())
		hello, _, err := f.Get()
		kept = append(kept, sock, conn, hs, f)
		if err == nil {
			taken++
			kept = append(kept, hello)
		}
		reason := awaitLastError(func() (string, bool) { return tlsext.ServerLastError(conn) })
		if err != nil && first == "" {
			first = reason
		}
	}
	fmt.Printf("hellos %d of %d: %s\n", taken, n, first)
	_ = kept
}

// accept accepts a connection of ln and completes its handshake; it
// exits the guest if it cannot. The connection is kept, never closed.
func accept(ln net.Listener) *wasitls.Conn {
	c, err := ln.Accept()
	if err != nil {
		fmt.Printf("accept: %v\n", err)
		os.Exit(1)
	}
	conn := c.(*wasitls.Conn)
	if err := conn.Handshake(); err != nil {
		fmt.Printf("handshake: %v\n", err)
		os.Exit(1)
	}
	return conn
}

// phadata is the phadata mode.
func phadata(name string, size int) {
	conn := accept(listen(name, wasitls.NoClientCert))
	var chain [][]byte
	done := make(chan error, 1)
	go func() {
		var err error
		chain, err = conn.RequestClientCertificate(context.Background())
		done <- err
	}()
	buf := make([]byte, 32<<10)
	read := 0
	for read < size {
		n, err := conn.Read(buf)
		read += n
		if err != nil {
			break
		}
	}
	err := <-done
	fmt.Printf("phadata: read %d, chain %d: %v\n", read, len(chain), err)
}

// phahold is the phahold mode.
func phahold(name string, n, size int) {
	ln := listen(name, wasitls.NoClientCert)
	done := make(chan error, n)
	var conns []*wasitls.Conn
	for range n {
		conn := accept(ln)
		conns = append(conns, conn)
		go func() {
			chain, err := conn.RequestClientCertificate(context.Background())
			if err == nil && len(chain) == 0 {
				err = errors.New("no chain")
			}
			done <- err
		}()
	}
	if _, err := accept(ln).Read(make([]byte, 1)); err != nil {
		fmt.Printf("go: %v\n", err)
		os.Exit(1)
	}
	buf := make([]byte, 32<<10)
	read := 0
	for _, conn := range conns {
		for got := 0; got < size; {
			k, err := conn.Read(buf[:min(len(buf), size-got)])
			got += k
			read += k
			if err != nil {
				break
			}
		}
	}
	ok := 0
	var first error
	for range n {
		if err := <-done; err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		ok++
	}
	fmt.Printf("phahold: read %d, ok %d, failed %d: %v\n", read, ok, n-ok, first)
}

// phafail is the phafail mode.
func phafail(name string, warm, n int, stdin *bufio.Scanner) {
	ln := listen(name, wasitls.NoClientCert)
	var conns []*wasitls.Conn
	var reqLen, readLen int
	var readErr error
	fail := func() {
		conn := accept(ln)
		conns = append(conns, conn) // kept, never closed
		if _, err := conn.RequestClientCertificate(context.Background()); err == nil {
			fmt.Println("phafail: the request completed; want a failure")
			os.Exit(1)
		} else if reqLen == 0 {
			reqLen = len(err.Error())
		}
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			fmt.Println("phafail: the read completed; want a failure")
			os.Exit(1)
		} else if readErr == nil {
			readErr, readLen = err, len(err.Error())
		}
	}
	for range warm {
		fail()
	}
	fmt.Printf("warm %d\n", warm)
	stdin.Scan()
	for range n {
		fail()
	}
	fmt.Printf("phafail: request %d, read %d: %.300v\n", reqLen, readLen, readErr)
}

// pha is the pha mode.
func pha(name string, n, r int, stdin *bufio.Scanner) {
	ln := listen(name, wasitls.NoClientCert)
	var conns []*wasitls.Conn
	for range n {
		conns = append(conns, accept(ln))
	}
	ask := func(what string, conns []*wasitls.Conn, times int) {
		ok := 0
		var first error
		for _, c := range conns {
			for range times {
				chain, err := c.RequestClientCertificate(context.Background())
				switch {
				case err != nil:
					if first == nil {
						first = err
					}
				case len(chain) == 0:
					fmt.Println("post-handshake authentication: no chain")
					os.Exit(1)
				default:
					ok++
				}
			}
		}
		fmt.Printf("%s: ok %d, failed %d: %v\n", what, ok, len(conns)*times-ok, first)
	}
	ask("warm", conns[:1], r)
	stdin.Scan()
	ask("pha", conns[1:], 1)
}

// verify is the verify mode.
func verify(n int, keep string, wait time.Duration) {
	type kept struct {
		conn tls.ClientConnection
		hs   tls.ClientHandshake
		vf   tls.FuturePublicIdentity
		id   tls.PublicIdentity
	}
	var all []kept
	verified := 0
	var first string
	for range n {
		began := time.Now()
		sock, conn, hs := connect()
		vf, err := hs.VerifyServerIdentity()
		if err != nil {
			fmt.Printf("verify-server-identity: %v\n", err)
			os.Exit(1)
		}
		p := vf.Subscribe()
		p.Block()
		p.Drop()
		if keep == "future" {
			// Left untaken, until the host gives up on the handshake.
			all = append(all, kept{conn: conn, hs: hs, vf: vf})
			for time.Since(began) < wait {
				if _, some := tlsext.ClientLastError(conn); some {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			continue
		}
		id, some, _, err := vf.Get()
		if err != nil || !some {
			if first == "" {
				reason, _ := tlsext.ClientLastError(conn)
				first = fmt.Sprintf("%v (last error: %s)", err, reason)
			}
			all = append(all, kept{conn: conn, hs: hs, vf: vf})
			continue
		}
		verified++
		vf.Drop()
		hs.Drop()
		conn.Drop()
		sock.Drop()
		all = append(all, kept{id: id})
	}
	if keep == "future" {
		// What each future held while the next handshakes ran.
		for _, k := range all {
			if _, some, _, err := k.vf.Get(); err == nil && some {
				verified++
			} else if first == "" {
				reason, _ := tlsext.ClientLastError(k.conn)
				first = fmt.Sprintf("%v (last error: %s)", err, reason)
			}
		}
	}
	fmt.Printf("verified %d, failed %d: %s\n", verified, n-verified, first)
	_ = all // kept, never dropped
}

func main() {
	if os.Args[1] == "verify" {
		host = os.Args[2]
		p, _ := strconv.ParseUint(os.Args[3], 10, 16)
		port = uint16(p)
		n, _ := strconv.Atoi(os.Args[4])
		var wait time.Duration
		if len(os.Args) > 6 {
			wait, _ = time.ParseDuration(os.Args[6])
		}
		stdin := bufio.NewScanner(os.Stdin)
		fmt.Println("ready")
		stdin.Scan()
		verify(n, os.Args[5], wait)
		for stdin.Scan() {
		}
		return
	}
	if mode, ok := map[string]func(string, int, int, *bufio.Scanner){"pha": pha, "phafail": phafail}[os.Args[1]]; ok {
		a, _ := strconv.Atoi(os.Args[3])
		b, _ := strconv.Atoi(os.Args[4])
		stdin := bufio.NewScanner(os.Stdin)
		mode(os.Args[2], a, b, stdin)
		for stdin.Scan() {
		}
		return
	}
	if os.Args[1] == "phadata" {
		size, _ := strconv.Atoi(os.Args[3])
		phadata(os.Args[2], size)
		for stdin := bufio.NewScanner(os.Stdin); stdin.Scan(); {
		}
		return
	}
	if os.Args[1] == "phahold" {
		n, _ := strconv.Atoi(os.Args[3])
		size, _ := strconv.Atoi(os.Args[4])
		phahold(os.Args[2], n, size)
		for stdin := bufio.NewScanner(os.Stdin); stdin.Scan(); {
		}
		return
	}
	if os.Args[1] == "requests" {
		host = os.Args[2]
		p, _ := strconv.ParseUint(os.Args[3], 10, 16)
		port = uint16(p)
		n, _ := strconv.Atoi(os.Args[4])
		requests(n)
		for stdin := bufio.NewScanner(os.Stdin); stdin.Scan(); {
		}
		return
	}
	if os.Args[1] == "hellos" {
		n, _ := strconv.Atoi(os.Args[2])
		hellos(n)
		for stdin := bufio.NewScanner(os.Stdin); stdin.Scan(); {
		}
		return
	}
	if os.Args[1] == "serve" {
		n, _ := strconv.Atoi(os.Args[3])
		serve(os.Args[2], n)
		for stdin := bufio.NewScanner(os.Stdin); stdin.Scan(); {
		}
		return
	}
	mode, host0 := os.Args[1], os.Args[2]
	host = host0
	p, _ := strconv.ParseUint(os.Args[3], 10, 16)
	port = uint16(p)
	stdin := bufio.NewScanner(os.Stdin)
	var kept []held
	switch mode {
	case "fail":
		warm, _ := strconv.Atoi(os.Args[4])
		n, _ := strconv.Atoi(os.Args[5])
		fail := func(first bool) {
			h, reason := handshake()
			if h.ok {
				fmt.Println("handshake: completed; want a failure")
				os.Exit(1)
			}
			if first {
				fmt.Printf("failed: %s\n", reason)
			}
			kept = append(kept, h)
		}
		for i := range warm {
			fail(i == 0)
		}
		fmt.Printf("warm %d\n", warm)
		stdin.Scan()
		for range n {
			fail(false)
		}
		fmt.Printf("held %d\n", n)
	case "churn":
		n, _ := strconv.Atoi(os.Args[4])
		fmt.Println("ready")
		stdin.Scan()
		var resumed, dropped int
		var first string
		for range n {
			h, reason := handshake()
			if h.ok {
				// The server's greeting follows its session ticket: once
				// it is in, the ticket is stored.
				if _, err := h.in.BlockingRead(64); err != nil {
					fmt.Printf("read: %v\n", err)
					os.Exit(1)
				}
			}
			switch {
			case !h.ok:
				kept = append(kept, h)
				if first == "" {
					first = reason
				}
			case tlsext.ClientSessionResumed(h.conn):
				kept = append(kept, h)
				resumed++
			default:
				h.drop()
				dropped++
			}
		}
		fmt.Printf("kept %d resumed, dropped %d, failed %d: %s\n", resumed, dropped, n-resumed-dropped, first)
	case "fill":
		n, _ := strconv.Atoi(os.Args[4])
		fmt.Println("ready")
		stdin.Scan()
		var ok []held
		var first string
		for range n {
			h, reason := handshake()
			kept = append(kept, h)
			if h.ok {
				ok = append(ok, h)
			} else if first == "" {
				first = reason
			}
		}
		fmt.Printf("kept %d, failed %d: %s\n", len(ok), n-len(ok), first)
		stdin.Scan()
		if len(ok) == 0 {
			fmt.Println("after drop: nothing to drop")
			break
		}
		ok[0].drop()
		if h, reason := handshake(); h.ok {
			fmt.Println("after drop: ok")
		} else {
			fmt.Printf("after drop: %s\n", reason)
		}
	}
	for stdin.Scan() {
	}
}
