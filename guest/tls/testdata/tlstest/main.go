// Command tlstest exercises package wasitls inside a guest; the host-side
// tests drive it. Identities come from the environment (KEY, CHAIN: PEM).
//
//	client ADDR NAME   dial with ALPN, verification hook and client identity,
//	                   send "ping", CloseWrite, read to EOF, print the
//	                   state, Close, and print how the state differs now
//	states N ADDR NAME  dial as client does, print "states", read the
//	                   state N times, print "read" and the certificates
//	                   each read holds (peer and local), then Close
//	rejectclose ADDR NAME  dial ADDR with a verification hook that
//	                   closes the connection from another goroutine and
//	                   then rejects the server's certificate
//	server             listen on 127.0.0.1:0, print the address, serve one
//	                   connection, try post-handshake authentication,
//	                   Close, and print how the state differs now
//	handshakes N       listen on 127.0.0.1:0, print the address, accept N
//	                   connections and serve each on a goroutine of its
//	                   own, as Go servers do: Handshake, write one byte,
//	                   Close; print "served" when all are done
//	draft ADDR NAME    the same exchange as client over the draft API
//	faildials N MISMATCH SILENT HANGUP DEAD GOOD
//	                   dial N times each MISMATCH (a server whose name is
//	                   not example.test), SILENT (no TLS answer; 20 dials
//	                   bounded by a context), HANGUP (closes at once) and
//	                   DEAD (nothing listens), each expected to fail; then
//	                   GOOD once, expected to succeed
//	hsdeadline ADDR    dial ADDR (which never answers the handshake) with
//	                   package guest/net, set a deadline 200ms ahead and
//	                   Read: the implicit handshake must end at the deadline
//	closewrite ADDR NAME  dial ADDR (which never reads), Close while
//	                   another goroutine is blocked in Write; print whether
//	                   Close returned and the Write's error
//	draftclosewrite ADDR  closewrite over the draft API
//	closestalled ADDR NAME  dial ADDR (which never reads), write until a
//	                   Write blocks, end it with a past write deadline,
//	                   then Close; print whether Close returned in time
//	closedeadline ADDR NAME  dial ADDR (which never reads), write until a
//	                   Write blocks, end it with a past write deadline and
//	                   clear the deadline, so that Close waits on
//	                   close_notify's flush; meanwhile set a write deadline
//	                   from another goroutine: print whether it returned
//	                   while Close was still waiting, and whether Close
//	                   then returned
//	hsdone ADDR NAME   dial ADDR, set a deadline and call Handshake on the
//	                   finished handshake: print its allocations per call
//	closerace N ADDR NAME  N times: dial ADDR, start the handshake on
//	                   another goroutine, Close after a delay that varies
//	                   by round (ADDR answers after delays of its own), and
//	                   wait for the handshake; then dial ADDR once more,
//	                   expected to succeed. Print how the handshakes ended
//	stepcloserace N ADDR NAME  closerace with the handshake driven step by
//	                   step: NewClientHandshake, then Finish on another
//	                   goroutine while Close runs
//	stepverifyrace N ADDR NAME  stepcloserace with VerifyServerIdentity
//	                   before Finish
//	stepabortrace N ADDR NAME  stepcloserace with VerifyServerIdentity and
//	                   then Abort instead of Finish
//	stepidreqrace N ADDR NAME  stepcloserace against a server asking for
//	                   a client certificate: ReceiveClientIdentityRequest,
//	                   answer it after a delay, then Finish
//	phaclose           listen on 127.0.0.1:0, print the address, serve
//	                   one connection, ask for a client certificate after
//	                   the handshake (the peer never answers) and Close
//	                   meanwhile from another goroutine; print how the
//	                   request ended, and what one after Close returns
//	statecache ADDR NAME  dial ADDR, read ConnectionState twice: print
//	                   whether both hold the same parsed certificates
//	deadlineafterclose ADDR NAME  close, each in turn, a guest/net
//	                   connection to ADDR, a Conn before its handshake, a
//	                   Conn after it and a DraftConn, then set each
//	                   deadline: print which refused with net.ErrClosed
//	draftclosestalled ADDR  closestalled over the draft API, printing
//	                   Close's error too
//	serverstepcloserace N  listen, print the address, and N times: accept,
//	                   NewServerHandshake, Finish on another goroutine,
//	                   Close after a delay that varies by round; then
//	                   accept once more and finish, expected to succeed
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
	"github.com/wasitls/wasitls/guest/poll"
	wasitls "github.com/wasitls/wasitls/guest/tls"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func identities() ([]*wasitls.Identity, error) {
	key, chain := os.Getenv("KEY"), os.Getenv("CHAIN")
	if key == "" {
		return nil, nil
	}
	id, err := wasitls.ParseIdentity([]byte(key), []byte(chain))
	if err != nil {
		return nil, err
	}
	return []*wasitls.Identity{id}, nil
}

// stateDiff says how after, a connection's state after Close, differs
// from before, its state before: "same" when it does not.
func stateDiff(before, after wasitls.ConnectionState) string {
	var diff []string
	check := func(name string, same bool) {
		if !same {
			diff = append(diff, name)
		}
	}
	check("complete", before.HandshakeComplete == after.HandshakeComplete)
	check("version", before.Version == after.Version)
	check("suite", before.CipherSuite == after.CipherSuite)
	check("group", before.CurveID == after.CurveID)
	check("alpn", before.NegotiatedProtocol == after.NegotiatedProtocol)
	check("sni", before.ServerName == after.ServerName)
	check("resumed", before.DidResume == after.DidResume)
	check("peer", slices.EqualFunc(before.RawPeerCertificates, after.RawPeerCertificates, bytes.Equal) &&
		slices.EqualFunc(before.PeerCertificates, after.PeerCertificates, (*x509.Certificate).Equal))
	check("local", slices.EqualFunc(before.LocalCertificate, after.LocalCertificate, bytes.Equal))
	check("ocsp", bytes.Equal(before.OCSPResponse, after.OCSPResponse))
	if len(diff) == 0 {
		return "same"
	}
	return "differs in " + strings.Join(diff, " ")
}

func run(args []string) error {
	ctx := context.Background()
	switch args[0] {
	case "client":
		ids, err := identities()
		if err != nil {
			return err
		}
		verified := 0
		cfg := &wasitls.Config{
			ServerName: args[2],
			NextProtos: []string{"h2", "http/1.1"},
			Identities: ids,
			VerifyPeerCertificate: func(raw [][]byte) error {
				verified = len(raw)
				return nil
			},
		}
		c, err := wasitls.Dial("tcp", args[1], cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, "ping"); err != nil {
			return err
		}
		if err := c.CloseWrite(); err != nil {
			return err
		}
		reply, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		st := c.ConnectionState()
		fmt.Printf("reply %s\n", reply)
		fmt.Printf("version %#x alpn %s sni %s peer %d verified %d local %d group %v suite %v\n",
			st.Version, st.NegotiatedProtocol, st.ServerName, len(st.PeerCertificates), verified,
			len(st.LocalCertificate), st.CurveID != 0, st.CipherSuite != 0)
		c.Close()
		fmt.Printf("after close %s\n", stateDiff(st, c.ConnectionState()))
		return nil

	case "states":
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return err
		}
		ids, err := identities()
		if err != nil {
			return err
		}
		c, err := wasitls.Dial("tcp", args[2], &wasitls.Config{
			ServerName: args[3], NextProtos: []string{"h2"}, Identities: ids,
		})
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Println("states")
		var st wasitls.ConnectionState
		for range n {
			st = c.ConnectionState()
		}
		fmt.Printf("read %d %s %s\n", len(st.RawPeerCertificates)+len(st.LocalCertificate), st.ServerName, st.NegotiatedProtocol)
		return nil

	case "client-reject":
		// The hook's error reaches the caller wrapped, not flattened.
		errRejected := errors.New("pinned key mismatch")
		_, err := wasitls.Dial("tcp", args[1], &wasitls.Config{
			ServerName:            args[2],
			VerifyPeerCertificate: func([][]byte) error { return errRejected },
		})
		fmt.Printf("rejected %v errors.Is %v\n", err, errors.Is(err, errRejected))
		return nil
	case "rejectclose":
		raw, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		var c *wasitls.Conn
		c = wasitls.Client(raw, &wasitls.Config{
			ServerName: args[2],
			VerifyPeerCertificate: func([][]byte) error {
				// Close from another goroutine while the hook runs;
				// the sleep lets it run up to its wait for the
				// handshake.
				go c.Close()
				time.Sleep(20 * time.Millisecond)
				return errors.New("pinned key mismatch")
			},
		})
		err = c.Handshake()
		fmt.Printf("handshake failed %v\n", err != nil)
		return nil

	case "server":
		ids, err := identities()
		if err != nil {
			return err
		}
		cfg := &wasitls.Config{
			GetConfigForClient: func(hello *wasitls.ClientHelloInfo) (*wasitls.Config, error) {
				fmt.Printf("hello sni %s alpn %s\n", hello.ServerName, strings.Join(hello.SupportedProtos, ","))
				return &wasitls.Config{
					Identities: ids,
					NextProtos: []string{"h2"},
					ClientAuth: wasitls.RequestClientCert,
				}, nil
			},
		}
		ln, err := wasitls.Listen("tcp4", "127.0.0.1:0", cfg)
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println(ln.Addr())
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		c := nc.(*wasitls.Conn)
		defer c.Close()
		if err := c.HandshakeContext(ctx); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		st := c.ConnectionState()
		fmt.Fprintf(c, "hello %s alpn=%s client=%d got=%s", st.ServerName, st.NegotiatedProtocol, len(st.PeerCertificates), line)
		_, err = c.RequestClientCertificate(ctx)
		fmt.Printf("post-handshake: %v\n", err)
		if err := c.CloseWrite(); err != nil {
			return err
		}
		c.Close()
		fmt.Printf("after close %s\n", stateDiff(st, c.ConnectionState()))
		return nil

	case "handshakes":
		return serveHandshakes(args[1])

	case "hsdeadline":
		raw, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		c := wasitls.Client(raw, &wasitls.Config{ServerName: "example.test"})
		defer c.Close()
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		start := time.Now()
		_, err = c.Read(make([]byte, 1))
		fmt.Printf("read timeout %v within 10s %v\n",
			errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded),
			time.Since(start) < 10*time.Second)
		return nil

	case "faildials":
		return failDials(args[1:])

	case "closewrite", "closestalled", "closedeadline", "closewritebusy":
		c, err := wasitls.Dial("tcp", args[1], &wasitls.Config{ServerName: args[2]})
		if err != nil {
			return err
		}
		switch args[0] {
		case "closedeadline":
			return deadlineDuringClose(c)
		case "closewritebusy":
			return closeWriteBehindWrite(c)
		}
		return closeBlockedWrite(c, args[0] == "closestalled")

	case "hsdone":
		c, err := wasitls.Dial("tcp", args[1], &wasitls.Config{ServerName: args[2]})
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Hour))
		var herr error
		allocs := testing.AllocsPerRun(100, func() {
			if err := c.Handshake(); err != nil {
				herr = err
			}
		})
		fmt.Printf("handshake err %v allocs %v\n", herr, allocs)
		return nil

	case "serverstepcloserace":
		return serverCloseRace(args[1:])

	case "closerace":
		return closeRace(args[1:], nil)
	case "stepcloserace":
		return closeRace(args[1:], finish)
	case "stepverifyrace":
		return closeRace(args[1:], verifyFinish)
	case "stepabortrace":
		return closeRace(args[1:], verifyAbort)
	case "phaclose":
		return phaClose()

	case "stepidreqrace":
		ids, err := identities()
		if err != nil {
			return err
		}
		return closeRace(args[1:], identityRequestDrive(ids))

	case "statecache":
		c, err := wasitls.Dial("tcp", args[1], &wasitls.Config{ServerName: args[2]})
		if err != nil {
			return err
		}
		defer c.Close()
		first, second := c.ConnectionState(), c.ConnectionState()
		fmt.Printf("peer %d same parsed %v\n", len(first.PeerCertificates),
			len(first.PeerCertificates) > 0 && slices.Equal(first.PeerCertificates, second.PeerCertificates))
		return nil

	case "deadlineafterclose":
		return deadlinesAfterClose(ctx, args[1], args[2])

	case "draftclosestalled":
		c, err := wasitls.DialDraft(ctx, "tcp", args[1])
		if err != nil {
			return err
		}
		if err := fillOutput(c); err != nil {
			return err
		}
		err = c.Close()
		fmt.Printf("close error %v timeout %v\n", err != nil, errors.Is(err, os.ErrDeadlineExceeded))
		return nil

	case "draftclosewrite", "draftclosewritebusy":
		c, err := wasitls.DialDraft(ctx, "tcp", args[1])
		if err != nil {
			return err
		}
		if args[0] == "draftclosewritebusy" {
			return closeWriteBehindWrite(c)
		}
		return closeBlockedWrite(c, false)

	case "draft":
		c, err := wasitls.DialDraft(ctx, "tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		io.WriteString(c, "ping")
		c.CloseWrite()
		reply, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		fmt.Printf("reply %s\n", reply)
		return nil
	}
	return fmt.Errorf("unknown mode %s", args[0])
}

// closeBlockedWrite closes c, whose peer never reads, while a Write is
// blocked on it. When stalled is false it closes c from another goroutine
// with the Write still blocked: Close must wake the Write with
// net.ErrClosed and return, as crypto/tls's does. When stalled is true it
// first ends the Write with a write deadline in the past (fillOutput), then
// closes c: with output the peer will never take, Close must give up on
// close_notify rather than wait for its delivery.
func closeBlockedWrite(c net.Conn, stalled bool) error {
	var wrote <-chan error
	var err error
	if stalled {
		err = fillOutput(c)
	} else {
		wrote, err = blockWrite(c)
	}
	if err != nil {
		return err
	}
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		fmt.Println("close blocked")
		return nil
	}
	// The host blocks the whole guest while it waits in a call, so the
	// watchdog above cannot fire: the clock tells.
	if stalled {
		fmt.Printf("close returned in time %v\n", time.Since(start) < 10*time.Second)
		return nil
	}
	fmt.Println("close returned,", writeEnd(wrote))
	return nil
}

// writeEnd waits up to 10s for the error ending the blocked Write that
// wrote reports and says how it ended: "write closed true" when with
// net.ErrClosed, "write blocked" when it did not end.
func writeEnd(wrote <-chan error) string {
	select {
	case err := <-wrote:
		return fmt.Sprintf("write closed %v", errors.Is(err, net.ErrClosed))
	case <-time.After(10 * time.Second):
		return "write blocked"
	}
}

func failDials(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	mismatch, silent, hangup, dead, good := args[1], args[2], args[3], args[4], args[5]
	dial := func(ctx context.Context, addr, name string) error {
		c, err := wasitls.DialContext(ctx, "tcp", addr, &wasitls.Config{ServerName: name})
		if err == nil {
			c.Close()
		}
		return err
	}
	fail := func(what, addr, name string, n int, timeout time.Duration) error {
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := dial(ctx, addr, name)
			cancel()
			if err == nil {
				return fmt.Errorf("%s dial %d succeeded", what, i)
			}
			// A cap refusing is not the failure this dial is about.
			if strings.Contains(err.Error(), "limit") {
				return fmt.Errorf("%s dial %d: %v", what, i, err)
			}
		}
		return nil
	}
	if err := fail("mismatch", mismatch, "wrong.test", n, time.Minute); err != nil {
		return err
	}
	if err := fail("silent", silent, "example.test", 20, 20*time.Millisecond); err != nil {
		return err
	}
	if err := fail("hangup", hangup, "example.test", n, time.Minute); err != nil {
		return err
	}
	if err := fail("refused", dead, "example.test", n, time.Minute); err != nil {
		return err
	}
	if err := dial(context.Background(), good, "example.test"); err != nil {
		return fmt.Errorf("good dial after the failures: %v", err)
	}
	fmt.Printf("failed %d mismatch, 20 silent, %d hangup, %d refused; then ok\n", n, n, n)
	return nil
}

// deadlinesAfterClose closes connections of each kind to addr (a server
// that completes handshakes as name), then sets their deadlines: as with
// package net and crypto/tls, each must fail with net.ErrClosed. It prints
// one line per kind, the three setters' results in order.
func deadlinesAfterClose(ctx context.Context, addr, name string) error {
	dial := func() (net.Conn, error) { return (&wasinet.Dialer{}).DialContext(ctx, "tcp", addr) }
	kinds := []struct {
		name string
		open func() (net.Conn, error)
	}{
		{"net", dial},
		{"tls-unstarted", func() (net.Conn, error) {
			raw, err := dial()
			return wasitls.Client(raw, &wasitls.Config{ServerName: name}), err
		}},
		{"tls", func() (net.Conn, error) {
			return wasitls.DialContext(ctx, "tcp", addr, &wasitls.Config{ServerName: name})
		}},
		{"draft", func() (net.Conn, error) { return wasitls.DialDraft(ctx, "tcp", addr) }},
	}
	for _, k := range kinds {
		c, err := k.open()
		if err != nil {
			return fmt.Errorf("%s: %v", k.name, err)
		}
		c.Close()
		future := time.Now().Add(time.Hour)
		fmt.Printf("%s closed %v %v %v\n", k.name,
			errors.Is(c.SetDeadline(future), net.ErrClosed),
			errors.Is(c.SetReadDeadline(future), net.ErrClosed),
			errors.Is(c.SetWriteDeadline(future), net.ErrClosed))
	}
	return nil
}

// closeWriteBehindWrite calls CloseWrite on c, whose peer never reads,
// while a Write is blocked on it: CloseWrite cannot send close_notify
// behind that Write and must say so, not report a half-close it did not
// make; then Close wakes the Write.
func closeWriteBehindWrite(c interface {
	net.Conn
	CloseWrite() error
}) error {
	wrote, err := blockWrite(c)
	if err != nil {
		return err
	}
	cerr := c.CloseWrite()
	fmt.Printf("closewrite refused %v: %v\n", errors.Is(cerr, wasinet.ErrWriteInProgress), cerr)
	c.Close()
	fmt.Println(writeEnd(wrote))
	return nil
}

// blockWrite writes to c, whose peer never reads, from another goroutine
// until a Write blocks: once no Write returned for a while. The channel
// gets the error that ends the blocked Write.
func blockWrite(c net.Conn) (<-chan error, error) {
	progress := make(chan struct{}, 1)
	wrote := make(chan error, 1)
	go func() {
		b := make([]byte, 64<<10)
		for {
			if _, err := c.Write(b); err != nil {
				wrote <- err
				return
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	for {
		select {
		case <-progress:
		case err := <-wrote:
			return nil, fmt.Errorf("write failed before it blocked: %v", err)
		case <-time.After(300 * time.Millisecond):
			return wrote, nil
		}
	}
}

// fillOutput writes to c, whose peer never reads, until a Write blocks,
// then ends that Write with a write deadline in the past.
func fillOutput(c net.Conn) error {
	wrote, err := blockWrite(c)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-wrote:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("write ended with %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		return errors.New("write blocked past its deadline")
	}
	return nil
}

// deadlineDuringClose fills c's output, clears the write deadline and
// closes c: Close waits on close_notify's flush, bounded by its own 5s.
// Meanwhile another goroutine sets a write deadline 1s ahead, as a user
// unblocking a close would: as with crypto/tls, that must not wait for
// Close, and it then bounds Close's flush.
func deadlineDuringClose(c *wasitls.Conn) error {
	if err := fillOutput(c); err != nil {
		return err
	}
	c.SetWriteDeadline(time.Time{})
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	time.Sleep(300 * time.Millisecond) // Close is waiting on the flush
	select {
	case err := <-closed:
		return fmt.Errorf("close returned before the deadline was set: %v", err)
	default:
	}
	set := make(chan struct{})
	go func() {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		close(set)
	}()
	var setFirst bool
	select {
	case <-set:
		select {
		case <-closed:
		default:
			setFirst = true
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			fmt.Printf("deadline set during close %v, close blocked\n", setFirst)
			return nil
		}
	case <-closed:
		<-set
	}
	fmt.Printf("deadline set during close %v, close returned\n", setFirst)
	return nil
}

// closeRace closes connections whose handshake runs on another goroutine,
// at delays that sweep the handshake's length, so that some Close calls
// land as the host finishes the handshake: whichever of Close and the
// handshake's end comes second must still drop the cleartext streams, or
// the host's caps refuse the last dial.
//
// With drive, the handshake is driven step by step: NewClientHandshake,
// then drive on the other goroutine; without, Conn.Handshake runs it.
func closeRace(args []string, drive func(h *wasitls.ClientHandshake, round int) error) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	addr, name := args[1], args[2]
	var finished, closedAtEnd, canceled int
	for i := range n {
		raw, err := wasinet.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("round %d: dial: %v", i, err)
		}
		var c *wasitls.Conn
		hs := make(chan error, 1)
		if drive != nil {
			h, err := wasitls.NewClientHandshake(raw, name)
			if err != nil {
				return fmt.Errorf("round %d: new handshake: %v", i, err)
			}
			c = h.Conn()
			go func() { hs <- drive(h, i) }()
		} else {
			c = wasitls.Client(raw, &wasitls.Config{ServerName: name})
			go func() { hs <- c.Handshake() }()
		}
		// Wait with guest/poll, not time.Sleep: this goroutine then runs
		// the poll rounds (the handshake starts in the first round's
		// yield), and when its wait and the handshake's end come in one
		// round, it runs Close before the handshake goroutine resumes.
		pollSleep(time.Duration(i%100) * 25 * time.Microsecond)
		c.Close()
		select {
		case err = <-hs:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("round %d: handshake still running 10s after Close", i)
		}
		switch {
		case err == nil:
			finished++
		case errors.Is(err, net.ErrClosed):
			closedAtEnd++
		case errors.Is(err, context.Canceled):
			canceled++
		default:
			return fmt.Errorf("round %d: handshake: %v", i, err)
		}
	}
	c, err := wasitls.Dial("tcp", addr, &wasitls.Config{ServerName: name})
	if err != nil {
		return fmt.Errorf("dial after %d rounds: %v", n, err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("close after %d rounds: %v", n, err)
	}
	fmt.Fprintf(os.Stderr, "handshakes finished before Close %d, closed as they finished %d, canceled %d\n", finished, closedAtEnd, canceled)
	fmt.Printf("%d rounds; then ok\n", n)
	return nil
}

// pollSleep waits d with guest/poll (see closeRace).
func pollSleep(d time.Duration) {
	wake := clocks.SubscribeDuration(clocks.Duration(d))
	poll.Wait(wake, time.Time{}, nil)
	wake.Drop()
}

// finish is the step-by-step drive of stepcloserace.
func finish(h *wasitls.ClientHandshake, _ int) error {
	_, err := h.Finish(context.Background())
	return err
}

// verifyFinish is the drive of stepverifyrace.
func verifyFinish(h *wasitls.ClientHandshake, round int) error {
	if _, err := h.VerifyServerIdentity(context.Background()); err != nil {
		return err
	}
	return finish(h, round)
}

// verifyAbort is the drive of stepabortrace: Abort after
// VerifyServerIdentity. Close must not cut the Abort short: it returns
// nil, or net.ErrClosed when Close came first, never a cancellation
// (which closeRace would count as a Close landing on a waiting step).
func verifyAbort(h *wasitls.ClientHandshake, _ int) error {
	if _, err := h.VerifyServerIdentity(context.Background()); err != nil {
		return err
	}
	err := h.Abort(context.Background())
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("abort: %v", err)
	}
	return err
}

// identityRequestDrive returns the drive of stepidreqrace: receive the
// server's certificate request, hold it open for a while that varies by
// round, answer it (with ids on even rounds, declining on odd ones), and
// finish. Close lands while the request is open in many rounds.
func identityRequestDrive(ids []*wasitls.Identity) func(*wasitls.ClientHandshake, int) error {
	return func(h *wasitls.ClientHandshake, round int) error {
		req, err := h.ReceiveClientIdentityRequest(context.Background())
		if err != nil {
			return err
		}
		if req == nil {
			return errors.New("the server asked for no certificate")
		}
		pollSleep(time.Duration(round%7) * 100 * time.Microsecond)
		req.Info()
		if round%2 == 0 {
			req.Respond(ids)
		} else {
			req.Decline()
		}
		return finish(h, round)
	}
}

// serverCloseRace is closeRace for a server handshake driven step by
// step: Close runs while ServerHandshake.Finish waits on another
// goroutine. The peer (the test) dials again and again.
func serverCloseRace(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	ln, ids, err := listenServer()
	if err != nil {
		return err
	}
	defer ln.Close()
	round := func(i int, closeAfter bool) error {
		raw, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("round %d: accept: %v", i, err)
		}
		h, err := wasitls.NewServerHandshake(raw)
		if err != nil {
			return fmt.Errorf("round %d: new handshake: %v", i, err)
		}
		if err := h.ConfigureIdentities(ids); err != nil {
			return fmt.Errorf("round %d: identities: %v", i, err)
		}
		c := h.Conn()
		hs := make(chan error, 1)
		go func() {
			_, err := h.Finish(context.Background())
			hs <- err
		}()
		if !closeAfter {
			pollSleep(time.Duration(i%100) * 25 * time.Microsecond)
			c.Close()
		}
		select {
		case err = <-hs:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("round %d: handshake still running 10s after Close", i)
		}
		if closeAfter {
			c.Close()
			return err
		}
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) {
			// A handshake that failed on its own (the peer gave up)
			// counts too: what matters is that Close did not trap.
			fmt.Fprintf(os.Stderr, "round %d: %v\n", i, err)
		}
		return nil
	}
	for i := range n {
		if err := round(i, false); err != nil {
			return err
		}
	}
	if err := round(n, true); err != nil {
		return fmt.Errorf("handshake after %d rounds: %v", n, err)
	}
	fmt.Printf("%d rounds; then ok\n", n)
	return nil
}

// listenServer loads the server's identities and listens on
// 127.0.0.1:0, and prints the address for the test to dial.
func listenServer() (net.Listener, []*wasitls.Identity, error) {
	ids, err := identities()
	if err != nil {
		return nil, nil, err
	}
	ln, err := wasinet.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	fmt.Println(ln.Addr())
	return ln, ids, nil
}

// phaClose closes a server connection while RequestClientCertificate
// waits, on another goroutine, for an answer the peer never sends: Close
// must end the wait before it drops the connection (the request's
// parent), and a request after Close fails with net.ErrClosed.
func phaClose() error {
	ln, ids, err := listenServer()
	if err != nil {
		return err
	}
	defer ln.Close()
	raw, err := ln.Accept()
	if err != nil {
		return err
	}
	c := wasitls.Server(raw, &wasitls.Config{Identities: ids})
	if err := c.Handshake(); err != nil {
		return err
	}
	got := make(chan error, 1)
	go func() {
		_, err := c.RequestClientCertificate(context.Background())
		got <- err
	}()
	// The request is out once this goroutine runs again: the other one
	// runs until it waits for the answer, which never comes.
	pollSleep(time.Millisecond)
	c.Close()
	select {
	case err = <-got:
	case <-time.After(10 * time.Second):
		return errors.New("RequestClientCertificate still waiting 10s after Close")
	}
	_, after := c.RequestClientCertificate(context.Background())
	fmt.Printf("request during close ended %v, after close closed %v\n", err, errors.Is(after, net.ErrClosed))
	return nil
}

// serveHandshakes is the handshakes mode. It turns the garbage collector
// off: a collection sizes new goroutines' stacks from the stacks it
// scanned (the runtime's adaptivestackstart), and the host's test counts
// the growths of goroutines that start at the default size.
func serveHandshakes(count string) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return err
	}
	debug.SetGCPercent(-1)
	ids, err := identities()
	if err != nil {
		return err
	}
	// With the protocols an HTTP server offers: their lowering per
	// handshake is counted too (TestServerHandshakeAllocations).
	ln, err := wasitls.Listen("tcp4", "127.0.0.1:0", &wasitls.Config{Identities: ids, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr())
	var wg sync.WaitGroup
	for range n {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go handshakeOne(c, &wg)
	}
	wg.Wait()
	fmt.Println("served")
	return nil
}

// handshakeOne serves one connection of serveHandshakes.
func handshakeOne(c net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	defer c.Close()
	if err := c.(*wasitls.Conn).Handshake(); err != nil {
		return
	}
	c.Write([]byte{1})
}
