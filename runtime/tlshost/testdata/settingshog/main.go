//go:build wasip1

// Command settingshog configures 192 ALPN IDs of 255 bytes (49,152 bytes
// with their length bytes, the most a client may offer) on client
// handshakes and keeps every connection,
// to push the host's bound on what the settings of a guest's connections
// make it hold:
//
//	settingshog HOST PORT N
//
// prints "ready" and waits for a line on its standard input, then
// connects N times, configuring the IDs on each handshake and keeping it
// suspended (nothing is sent); a refused configure-alpn-ids leaves the
// handshake without ALPN, and the guest goes on. It prints "suspended:
// configured C, refused R: REASON" (the first refusal's
// client-last-error). It waits for another line, drops every connection
// and prints "dropped", then does the same with handshakes it finishes,
// keeping each established connection, and prints "established:
// configured C, refused R, failed F: REASON". It waits for a line, drops
// them, and makes one more handshake with the IDs, printing "after drop:
// ok" or "after drop: REASON".
//
//	settingshog ids HOST PORT N COUNT NAME
//
// prints "ready" and waits for a line on its standard input, then
// connects N times and starts a server handshake on each connection,
// configuring it with COUNT references to the host's identity NAME, and
// keeps it suspended; a refused configure-server-identities leaves the
// handshake as it was, and the guest goes on. It prints "identities:
// configured C, refused R: REASON" (the first refusal's
// server-last-error), waits for a line, drops every connection and
// configures one more, printing "after drop: ok" or "after drop: REASON".
//
//	settingshog respond HOST PORT N COUNT NAME
//
// prints "ready" and waits for a line on its standard input, then makes N
// client handshakes to a server that asks for a certificate, answering
// each request with COUNT references to the host's identity NAME and
// keeping every connection. It prints "respond: completed C, failed F:
// REASON" (the first failure's client-last-error), waits for a line,
// drops every connection and makes one more handshake, printing "after
// drop: ok" or "after drop: REASON".
//
// Every mode exits once its standard input ends.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

var (
	host string
	port uint16
	ids  [][]byte
)

// held is a connection the guest keeps, with what it holds of it.
type held struct {
	sock    sockets.TCPSocket
	conn    tls.ClientConnection
	hs      tls.ClientHandshake // until finished
	fut     tls.FutureStreams   // once finished
	in      io.InputStream      // once established
	out     io.OutputStream
	hasHS   bool
	hasFut  bool
	streams bool
}

func (h *held) drop() {
	if h.streams {
		h.in.Drop()
		h.out.Drop()
	}
	if h.hasFut {
		h.fut.Drop()
	}
	if h.hasHS {
		h.hs.Drop()
	}
	h.conn.Drop()
	h.sock.Drop()
}

// dialClient dials host:port and starts a client handshake; the guest
// exits if either fails.
func dialClient() *held {
	sock, in, out, err := wasinet.Dial(host, port)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		os.Exit(1)
	}
	conn := tls.NewClientConnection(in, out)
	hs, err := conn.Connect(host)
	if err != nil {
		reason, _ := tlsext.ClientLastError(conn)
		fmt.Printf("connect: %v (%s)\n", err, reason)
		os.Exit(1)
	}
	return &held{sock: sock, conn: conn, hs: hs, hasHS: true}
}

// refusal is last-error's reason for a refused configure call.
func refusal(reason string) string {
	if reason == "" {
		return "refused without a reason"
	}
	return reason
}

// connect dials and starts a handshake configured with the IDs; refused
// is client-last-error when the host refused them.
func connect() (h *held, refused string) {
	h = dialClient()
	if err := h.hs.ConfigureALPNIDs(ids); err != nil {
		reason, _ := tlsext.ClientLastError(h.conn)
		refused = refusal(reason)
	}
	return h, refused
}

// finish runs the handshake to its end; it returns client-last-error if
// it failed.
func (h *held) finish() string {
	f := tls.ClientHandshakeFinish(h.hs)
	h.hasHS, h.fut, h.hasFut = false, f, true
	p := f.Subscribe()
	p.Block()
	p.Drop()
	var ready bool
	var err error
	h.in, h.out, ready, err = f.Get()
	if !ready {
		fmt.Println("finish: not ready after its pollable")
		os.Exit(1)
	}
	if err != nil {
		reason, _ := tlsext.ClientLastError(h.conn)
		return fmt.Sprintf("%v (last error: %s)", err, reason)
	}
	h.streams = true
	return ""
}

// identityArgs parses the arguments of a mode that hands the host COUNT
// references to its identity NAME: HOST PORT N COUNT NAME. It sets host
// and port and returns N and the list.
func identityArgs(mode string, args []string) (n int, list []tls.PrivateIdentity) {
	usage := func() {
		fmt.Fprintf(os.Stderr, "usage: settingshog %s HOST PORT N COUNT NAME\n", mode)
		os.Exit(2)
	}
	if len(args) != 5 {
		usage()
	}
	host = args[0]
	p, err1 := strconv.ParseUint(args[1], 10, 16)
	n, err2 := strconv.Atoi(args[2])
	count, err3 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || err3 != nil {
		usage()
	}
	port = uint16(p)
	id, ok := tlsext.HostIdentity(args[4])
	if !ok {
		fmt.Printf("host-identity %s: none\n", args[4])
		os.Exit(1)
	}
	list = make([]tls.PrivateIdentity, count)
	for i := range list {
		list[i] = id
	}
	return n, list
}

// keepN makes n connections with open once a line came, keeping each;
// it prints "LABEL: OK o, NOTOK f: REASON" (the first failure's reason),
// and once another line came drops them all, makes one more, printing
// "after drop: ok" or "after drop: REASON", drops it and waits for the
// end of the input.
func keepN[T any](n int, label, ok, notOK string, open func() (T, string), drop func(T)) {
	stdin := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !stdin.Scan() {
		return
	}
	var kept []T
	var t tally
	for range n {
		c, why := open()
		kept = append(kept, c)
		t.add(why)
	}
	fmt.Printf("%s: %s %d, %s %d: %s\n", label, ok, t.ok, notOK, t.failed, t.first)
	if !stdin.Scan() {
		return
	}
	for _, c := range kept {
		drop(c)
	}
	c, why := open()
	printAfterDrop(why)
	drop(c)
	for stdin.Scan() {
	}
}

// tally counts outcomes: the empty reason is a success.
type tally struct {
	ok, failed int
	first      string // the first failure's reason
}

func (t *tally) add(why string) {
	if why == "" {
		t.ok++
	} else if t.failed++; t.first == "" {
		t.first = why
	}
}

// printAfterDrop prints what came of the connection made after the guest
// dropped the others.
func printAfterDrop(why string) {
	if why == "" {
		fmt.Println("after drop: ok")
	} else {
		fmt.Printf("after drop: %s\n", why)
	}
}

// idsMode is the ids mode.
func idsMode(args []string) {
	n, list := identityArgs("ids", args)
	type server struct {
		sock sockets.TCPSocket
		conn tls.ServerConnection
		hs   tls.ServerHandshake
	}
	configure := func() (s server, refused string) {
		sock, in, out, err := wasinet.Dial(host, port)
		if err != nil {
			fmt.Printf("dial: %v\n", err)
			os.Exit(1)
		}
		conn := tls.NewServerConnection(in, out)
		hs, err := conn.Accept()
		if err != nil {
			fmt.Printf("accept: %v\n", err)
			os.Exit(1)
		}
		if err := hs.ConfigureServerIdentities(list); err != nil {
			reason, _ := tlsext.ServerLastError(conn)
			refused = refusal(reason)
		}
		return server{sock, conn, hs}, refused
	}
	drop := func(s server) {
		s.hs.Drop()
		s.conn.Drop()
		s.sock.Drop()
	}
	keepN(n, "identities", "configured", "refused", configure, drop)
}

// respondMode is the respond mode.
func respondMode(args []string) {
	n, list := identityArgs("respond", args)
	// handshake makes one handshake answering the request with list; it
	// returns client-last-error if it failed.
	handshake := func() (*held, string) {
		h := dialClient()
		f, err := h.hs.ReceiveClientIdentityRequest()
		if err != nil {
			fmt.Printf("receive-client-identity-request: %v\n", err)
			os.Exit(1)
		}
		p := f.Subscribe()
		p.Block()
		p.Drop()
		req, some, _, err := f.Get()
		f.Drop()
		if err != nil {
			reason, _ := tlsext.ClientLastError(h.conn)
			return h, fmt.Sprintf("%v (last error: %s)", err, reason)
		}
		if !some {
			fmt.Println("the server asked for no certificate")
			os.Exit(1)
		}
		tls.ClientIdentityRequestRespond(req, list)
		return h, h.finish()
	}
	keepN(n, "respond", "completed", "failed", handshake, (*held).drop)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ids" {
		idsMode(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "respond" {
		respondMode(os.Args[2:])
		return
	}
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: settingshog HOST PORT N")
		os.Exit(2)
	}
	host = os.Args[1]
	p, err1 := strconv.ParseUint(os.Args[2], 10, 16)
	n, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "usage: settingshog HOST PORT N")
		os.Exit(2)
	}
	port = uint16(p)
	for i := range 192 {
		id := make([]byte, 255)
		for j := range id {
			id[j] = 'a' + byte((i+j)%26)
		}
		ids = append(ids, id)
	}
	stdin := bufio.NewScanner(os.Stdin)
	wait := func() {
		if !stdin.Scan() {
			os.Exit(0)
		}
	}
	fmt.Println("ready")
	wait()

	var kept []*held
	var configured tally
	for range n {
		h, why := connect()
		kept = append(kept, h)
		configured.add(why)
	}
	fmt.Printf("suspended: configured %d, refused %d: %s\n", configured.ok, configured.failed, configured.first)
	wait()
	for _, h := range kept {
		h.drop()
	}
	kept = nil
	fmt.Println("dropped")

	var finished tally
	configured = tally{}
	for range n {
		h, why := connect()
		kept = append(kept, h)
		configured.add(why)
		finished.add(h.finish())
	}
	fmt.Printf("established: configured %d, refused %d, failed %d: %s%s\n", configured.ok, configured.failed, finished.failed, configured.first, finished.first)
	wait()
	for _, h := range kept {
		h.drop()
	}
	h, why := connect()
	if why == "" {
		why = h.finish()
	}
	printAfterDrop(why)
	h.drop()
	for stdin.Scan() {
	}
}
