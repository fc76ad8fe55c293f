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

// connect dials and starts a handshake configured with the IDs; refused
// is client-last-error when the host refused them.
func connect() (h *held, refused string) {
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
	h = &held{sock: sock, conn: conn, hs: hs, hasHS: true}
	if err := hs.ConfigureALPNIDs(ids); err != nil {
		refused, _ = tlsext.ClientLastError(conn)
		if refused == "" {
			refused = "refused without a reason"
		}
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

// idsMode is the ids mode.
func idsMode(args []string) {
	if len(args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: settingshog ids HOST PORT N COUNT NAME")
		os.Exit(2)
	}
	host = args[0]
	p, err1 := strconv.ParseUint(args[1], 10, 16)
	n, err2 := strconv.Atoi(args[2])
	count, err3 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintln(os.Stderr, "usage: settingshog ids HOST PORT N COUNT NAME")
		os.Exit(2)
	}
	port = uint16(p)
	id, ok := tlsext.HostIdentity(args[4])
	if !ok {
		fmt.Printf("host-identity %s: none\n", args[4])
		os.Exit(1)
	}
	list := make([]tls.PrivateIdentity, count)
	for i := range list {
		list[i] = id
	}
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
			refused, _ = tlsext.ServerLastError(conn)
			if refused == "" {
				refused = "refused without a reason"
			}
		}
		return server{sock, conn, hs}, refused
	}
	drop := func(s server) {
		s.hs.Drop()
		s.conn.Drop()
		s.sock.Drop()
	}
	stdin := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !stdin.Scan() {
		return
	}
	var kept []server
	configured, refused, first := 0, 0, ""
	for range n {
		s, why := configure()
		kept = append(kept, s)
		if why == "" {
			configured++
		} else if refused++; first == "" {
			first = why
		}
	}
	fmt.Printf("identities: configured %d, refused %d: %s\n", configured, refused, first)
	if !stdin.Scan() {
		return
	}
	for _, s := range kept {
		drop(s)
	}
	s, why := configure()
	if why == "" {
		fmt.Println("after drop: ok")
	} else {
		fmt.Printf("after drop: %s\n", why)
	}
	drop(s)
	for stdin.Scan() {
	}
}

// respondMode is the respond mode.
func respondMode(args []string) {
	if len(args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: settingshog respond HOST PORT N COUNT NAME")
		os.Exit(2)
	}
	host = args[0]
	p, err1 := strconv.ParseUint(args[1], 10, 16)
	n, err2 := strconv.Atoi(args[2])
	count, err3 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintln(os.Stderr, "usage: settingshog respond HOST PORT N COUNT NAME")
		os.Exit(2)
	}
	port = uint16(p)
	id, ok := tlsext.HostIdentity(args[4])
	if !ok {
		fmt.Printf("host-identity %s: none\n", args[4])
		os.Exit(1)
	}
	list := make([]tls.PrivateIdentity, count)
	for i := range list {
		list[i] = id
	}
	// handshake makes one handshake answering the request with list; it
	// returns client-last-error if it failed.
	handshake := func() (*held, string) {
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
		h := &held{sock: sock, conn: conn, hs: hs, hasHS: true}
		f, err := hs.ReceiveClientIdentityRequest()
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
			reason, _ := tlsext.ClientLastError(conn)
			return h, fmt.Sprintf("%v (last error: %s)", err, reason)
		}
		if !some {
			fmt.Println("the server asked for no certificate")
			os.Exit(1)
		}
		tls.ClientIdentityRequestRespond(req, list)
		return h, h.finish()
	}
	stdin := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !stdin.Scan() {
		return
	}
	var kept []*held
	completed, failed, first := 0, 0, ""
	for range n {
		h, why := handshake()
		kept = append(kept, h)
		if why == "" {
			completed++
		} else if failed++; first == "" {
			first = why
		}
	}
	fmt.Printf("respond: completed %d, failed %d: %s\n", completed, failed, first)
	if !stdin.Scan() {
		return
	}
	for _, h := range kept {
		h.drop()
	}
	h, why := handshake()
	if why == "" {
		fmt.Println("after drop: ok")
	} else {
		fmt.Printf("after drop: %s\n", why)
	}
	h.drop()
	for stdin.Scan() {
	}
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
	configured, refused, first := 0, 0, ""
	for range n {
		h, why := connect()
		kept = append(kept, h)
		if why == "" {
			configured++
		} else if refused++; first == "" {
			first = why
		}
	}
	fmt.Printf("suspended: configured %d, refused %d: %s\n", configured, refused, first)
	wait()
	for _, h := range kept {
		h.drop()
	}
	kept = nil
	fmt.Println("dropped")

	configured, refused, first = 0, 0, ""
	failed, firstFailure := 0, ""
	for range n {
		h, why := connect()
		kept = append(kept, h)
		if why == "" {
			configured++
		} else if refused++; first == "" {
			first = why
		}
		if why := h.finish(); why != "" {
			if failed++; firstFailure == "" {
				firstFailure = why
			}
		}
	}
	fmt.Printf("established: configured %d, refused %d, failed %d: %s%s\n", configured, refused, failed, first, firstFailure)
	wait()
	for _, h := range kept {
		h.drop()
	}
	h, why := connect()
	if why == "" {
		why = h.finish()
	}
	if why == "" {
		fmt.Println("after drop: ok")
	} else {
		fmt.Printf("after drop: %s\n", why)
	}
	h.drop()
	for stdin.Scan() {
	}
}
