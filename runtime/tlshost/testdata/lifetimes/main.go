//go:build wasip1

// Command lifetimes drops and reuses the resources of wasi:tls in the
// orders the WIT permits, a hostile guest's way, one scenario per run:
//
//	lifetimes MODE HOST SILENT TLS N LIMIT [KEY CERT]
//
// SILENT is the port of a server that never answers, TLS the port of a
// TLS echo server for HOST; with KEY and CERT (HOST's identity, PEM) it
// listens on a loopback port for the server scenarios, whose clients are
// the guest's own. It prints "ready" and waits for a line on
// its standard input (the test counts the host's goroutines), runs MODE
// N times (printing "round I took D" for a round past 10 s: nothing in
// them waits for a peer that long), then makes LIMIT handshakes pending to the silent server at
// once (the host's limit: each slot must have come back), printing
// "slots ok" or why not, prints "checkpoint" and waits for its standard
// input to end.
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
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
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

// ready looks at p once and drops it.
func ready(p wio.Pollable) {
	p.Ready()
	p.Drop()
}

func must(what string, err error) {
	if err != nil {
		fmt.Printf("%s: %v\n", what, err)
		os.Exit(1)
	}
}

// scenarios are the modes: each gets the silent and the TLS port.
var scenarios = map[string]func(silent, tlsPort uint16){
	// The handshake runs (verify-server-identity) to a silent peer; the
	// guest drops the pollable, the future, the handshake and the
	// connection without waiting, then the socket.
	"verify-drop": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f, err := hs.VerifyServerIdentity()
		must("verify-server-identity", err)
		p := f.Subscribe()
		p.Ready()
		p.Drop()
		f.Drop()
		hs.Drop()
		conn.Drop()
		sock.Drop()
	},
	// finish to a silent peer, looked at once, then everything dropped,
	// the socket first.
	"finish-drop-socket-first": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		p := f.Subscribe()
		p.Ready()
		sock.Drop()
		p.Drop()
		f.Drop()
		conn.Drop()
	},
	// abort of a running handshake whose pollable is never waited for.
	"abort-nowait": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f, err := hs.VerifyServerIdentity()
		must("verify-server-identity", err)
		ready(f.Subscribe())
		f.Drop()
		p := tls.ClientHandshakeAbort(hs)
		p.Drop()
		conn.Drop()
		sock.Drop()
	},
	// A connection never connected, dropped; one connected, never
	// resumed, its handshake dropped and then the connection.
	"never-started": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		tls.NewClientConnection(in, out).Drop()
		sock.Drop()
		sock, in, out = dial(silent)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		hs.Drop()
		_, err = conn.Connect(host)
		if err == nil {
			fmt.Println("second connect succeeded")
		}
		conn.Drop()
		sock.Drop()
	},
	// A full handshake with the echo server; get twice, subscribe after
	// the value was taken; streams dropped output first, the connection
	// last.
	"complete": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		fv, err := hs.VerifyServerIdentity()
		must("verify-server-identity", err)
		fr, err := hs.ReceiveClientIdentityRequest()
		must("receive-client-identity-request", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, ready, err := f.Get()
		if !ready || err != nil {
			fmt.Println("get:", ready, err)
			os.Exit(1)
		}
		if _, _, ready, err := f.Get(); !ready || err == nil {
			fmt.Println("second get:", ready, err)
		}
		wasinet.Await(f.Subscribe())
		// The verify future's chain, taken twice.
		wasinet.Await(fv.Subscribe())
		if id, some, _, err := fv.Get(); err == nil && some {
			id.Drop()
		}
		fv.Get()
		fv.Drop()
		fr.Drop()
		if id, ok := conn.ServerIdentity(); ok {
			id.Drop()
		}
		must("write", cout.BlockingWriteAndFlush([]byte("ping\n")))
		cout.Drop()
		if _, err := wasinet.ReadSome(cin); err != nil {
			fmt.Println("read:", err)
		}
		cin.Drop()
		f.Drop()
		conn.Drop()
		sock.Drop()
	},
	// A completed connection dropped while the peer still sends, its
	// input stream never read, with close-output first.
	"complete-close-output": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, _, err := f.Get()
		must("get", err)
		must("write", cout.BlockingWriteAndFlush([]byte("ping\n")))
		tlsext.CloseClientOutput(conn)
		tlsext.CloseClientOutput(conn)
		cout.Drop()
		cin.Drop()
		f.Drop()
		conn.Drop()
		sock.Drop()
	},
	// The draft's handshake to a silent peer: finished, looked at, the
	// future dropped; and one never finished.
	"draft-drop": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		p := f.Subscribe()
		p.Ready()
		p.Drop()
		f.Get()
		f.Drop()
		sock.Drop()
		sock, in, out = dial(silent)
		tlsdraft.NewClientHandshake(host, in, out).Drop()
		sock.Drop()
	},
	// The draft's complete connection: get twice, close-output twice,
	// streams and connection dropped, the future after them.
	"draft-complete": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		wasinet.Await(f.Subscribe())
		c, cin, cout, _, err := f.Get()
		must("draft get", err)
		if _, _, _, _, err := f.Get(); err == nil {
			fmt.Println("second draft get succeeded")
		}
		must("write", cout.BlockingWriteAndFlush([]byte("ping\n")))
		c.CloseOutput()
		c.CloseOutput()
		cin.Drop()
		cout.Drop()
		c.Drop()
		f.Drop()
		sock.Drop()
	},
	// The draft's handshake to a silent peer run on the guest's waits
	// with a deadline (paused there), then dropped while paused: the
	// socket first, the pollable, the future last.
	"draft-pause-drop": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		p := f.Subscribe()
		for range 2 {
			timer := clocks.SubscribeDuration(clocks.Duration(5 * time.Millisecond))
			wio.Poll([]wio.Pollable{p, timer})
			timer.Drop()
		}
		sock.Drop()
		p.Drop()
		f.Drop()
	},
	// Two draft handshakes to a silent peer waited on together (each
	// then runs on a goroutine of the host), dropped while they run.
	"draft-two-drop": func(silent, _ uint16) {
		sock1, in1, out1 := dial(silent)
		sock2, in2, out2 := dial(silent)
		f1 := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in1, out1))
		f2 := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in2, out2))
		p1, p2 := f1.Subscribe(), f2.Subscribe()
		timer := clocks.SubscribeDuration(clocks.Duration(20 * time.Millisecond))
		wio.Poll([]wio.Pollable{p1, p2, timer})
		timer.Drop()
		p1.Drop()
		p2.Drop()
		f1.Drop()
		sock2.Drop()
		f2.Drop()
		sock1.Drop()
	},
	// The draft's handshake against the host's short timeout: get the
	// error, get again, subscribe after the value was taken.
	"timeout-draft-get": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		wasinet.Await(f.Subscribe())
		_, _, _, ready, err := f.Get()
		if !ready || err == nil {
			fmt.Println("draft get:", ready, err)
		}
		var he *tlsdraft.HandshakeError
		if errors.As(err, &he) {
			he.Drop()
		}
		if _, _, _, ready, err := f.Get(); !ready || err != tlsdraft.ErrConsumed {
			fmt.Println("second draft get:", ready, err)
		}
		wasinet.Await(f.Subscribe())
		f.Drop()
		sock.Drop()
	},
	// The draft's complete connection, its resources in another order:
	// the future dropped first, the output stream before close-output
	// (twice), the input read to its end, the connection last.
	"draft-orders": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		wasinet.Await(f.Subscribe())
		c, cin, cout, _, err := f.Get()
		must("draft get", err)
		wasinet.Await(f.Subscribe())
		f.Drop()
		must("write", cout.BlockingWriteAndFlush([]byte("ping\n")))
		if b, err := wasinet.ReadSome(cin); err != nil || string(b) != "ping\n" {
			fmt.Printf("echo: %q %v\n", b, err)
		}
		cout.Drop()
		c.CloseOutput()
		c.CloseOutput()
		// The echo server ends without close_notify: the read ends with
		// an error saying so.
		wasinet.ReadAll(cin)
		cin.Drop()
		c.Drop()
		sock.Drop()
	},
	// The draft's complete connection whose socket the guest drops
	// first, then uses the cleartext streams (the connection is theirs
	// too) and drops them.
	"draft-socket-first": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		wasinet.Await(f.Subscribe())
		c, cin, cout, _, err := f.Get()
		must("draft get", err)
		sock.Drop()
		f.Drop()
		if err := cout.BlockingWriteAndFlush([]byte("ping\n")); err == nil {
			if b, err := wasinet.ReadSome(cin); err != nil || string(b) != "ping\n" {
				fmt.Printf("echo after the socket's drop: %q %v\n", b, err)
			}
		}
		c.CloseOutput()
		cout.Drop()
		cin.Drop()
		c.Drop()
	},
	// The draft inside the draft (TLS in TLS): the outer connection
	// dropped while the inner handshake runs, with the inner future.
	"tunnel-drop-outer-draft": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		wasinet.Await(f.Subscribe())
		outer, cin, cout, _, err := f.Get()
		must("draft get", err)
		f.Drop()
		fi := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, cin, cout))
		ready(fi.Subscribe())
		outer.Drop()
		wasinet.Await(fi.Subscribe())
		if inner, iin, iout, _, err := fi.Get(); err == nil {
			iin.Drop()
			iout.Drop()
			inner.Drop()
		} else {
			var he *tlsdraft.HandshakeError
			if errors.As(err, &he) {
				he.Drop()
			}
		}
		fi.Drop()
		sock.Drop()
	},
	// A connection over the cleartext of another (TLS in TLS) whose
	// outer connection is dropped while the inner handshake runs.
	"tunnel-drop-outer": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		outer := tls.NewClientConnection(in, out)
		hs, err := outer.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, _, err := f.Get()
		must("get", err)
		f.Drop()
		inner := tls.NewClientConnection(cin, cout)
		ihs, err := inner.Connect(host)
		must("inner connect", err)
		fi := tls.ClientHandshakeFinish(ihs)
		ready(fi.Subscribe())
		outer.Drop()
		wasinet.Await(fi.Subscribe())
		// The inner handshake may have completed before the outer
		// connection closed.
		iin, iout, _, ierr := fi.Get()
		if ierr == nil {
			iout.Drop()
			iin.Drop()
		}
		fi.Drop()
		inner.Drop()
		sock.Drop()
	},
	// A server handshake (with a client of the guest's own over its
	// listener) suspended at its ClientHello hook, the hello taken and
	// dropped, the future and then the handshake dropped (an abort at the
	// hook: the client's handshake fails with the alert).
	"server-hello-drop": func(uint16, uint16) {
		client, server := pair()
		chs, err := client.conn.Connect(host)
		must("connect", err)
		cf := tls.ClientHandshakeFinish(chs)
		shs, err := server.sconn.Accept()
		must("accept", err)
		fh, err := shs.ReceiveClientHello()
		must("receive-client-hello", err)
		ph, pc := fh.Subscribe(), cf.Subscribe()
		drive(ph, pc)
		hello, ready, err := fh.Get()
		if !ready || err != nil {
			fmt.Println("hello:", ready, err)
			os.Exit(1)
		}
		hello.Drop()
		fh.Get()
		ph.Drop()
		fh.Drop()
		shs.Drop()
		drive(pc)
		pc.Drop()
		if _, _, _, err := cf.Get(); err == nil {
			fmt.Println("the client's handshake completed after the server's was dropped")
		}
		cf.Drop()
		client.drop()
		server.drop()
	},
	// A server identity dropped before the handshake that uses it; the
	// server's request-client-identity future and the client's
	// certificate request dropped unanswered; both complete, exchange a
	// line, and drop everything, the connections while the peer's data
	// is unread.
	"server-identity-dropped": func(uint16, uint16) {
		client, server := pair()
		id, err := tls.ParsePrivateIdentity(keyPEM, [][]byte{certPEM})
		must("parse", err)
		chs, err := client.conn.Connect(host)
		must("connect", err)
		fr, err := chs.ReceiveClientIdentityRequest()
		must("receive-client-identity-request", err)
		shs, err := server.sconn.Accept()
		must("accept", err)
		must("configure-server-identities", shs.ConfigureServerIdentities([]tls.PrivateIdentity{id}))
		id.Drop()
		fv, err := shs.RequestClientIdentity()
		must("request-client-identity", err)
		fv.Drop()
		pr := fr.Subscribe()
		sf := tls.ServerHandshakeFinish(shs)
		ps := sf.Subscribe()
		drive(pr, ps)
		pr.Drop()
		if req, some, _, err := fr.Get(); err == nil && some {
			req.Drop()
		}
		fr.Drop()
		cf := tls.ClientHandshakeFinish(chs)
		pc := cf.Subscribe()
		drive(pc, ps)
		drive(ps, pc)
		pc.Drop()
		ps.Drop()
		cin, cout, _, err := cf.Get()
		must("client get", err)
		sin, sout, _, err := sf.Get()
		must("server get", err)
		must("client write", cout.BlockingWriteAndFlush([]byte("ping\n")))
		must("server write", sout.BlockingWriteAndFlush([]byte("pong\n")))
		if _, err := wasinet.ReadSome(sin); err != nil {
			fmt.Println("server read:", err)
		}
		if sid, ok := server.sconn.ServerIdentity(); ok {
			sid.Drop()
		} else {
			fmt.Println("no server identity after its handle was dropped")
		}
		cout.Drop()
		cin.Drop()
		sout.Drop()
		sin.Drop()
		cf.Drop()
		sf.Drop()
		client.drop()
		server.drop()
	},
	// Post-handshake authentication in flight (the client never reads,
	// so never answers) when the guest drops its future and the
	// connection.
	"pha-drop": func(uint16, uint16) {
		client, server := pair()
		id, err := tls.ParsePrivateIdentity(keyPEM, [][]byte{certPEM})
		must("parse", err)
		chs, err := client.conn.Connect(host)
		must("connect", err)
		cf := tls.ClientHandshakeFinish(chs)
		shs, err := server.sconn.Accept()
		must("accept", err)
		must("configure-server-identities", shs.ConfigureServerIdentities([]tls.PrivateIdentity{id}))
		id.Drop()
		sf := tls.ServerHandshakeFinish(shs)
		pc, ps := cf.Subscribe(), sf.Subscribe()
		drive(pc, ps)
		drive(ps, pc)
		pc.Drop()
		ps.Drop()
		cin, cout, _, err := cf.Get()
		must("client get", err)
		sin, sout, _, err := sf.Get()
		must("server get", err)
		if fa, err := server.sconn.RequestClientIdentity(); err == nil {
			p := fa.Subscribe()
			p.Ready()
			if fb, err := server.sconn.RequestClientIdentity(); err == nil {
				// Allowed once the first is over: a backend that
				// cannot authenticate after the handshake (stdtls)
				// fails it at once, on a goroutine of the host's.
				if !p.Ready() {
					fmt.Println("a second post-handshake request while one is in flight")
				}
				fb.Drop()
			}
			p.Drop()
			fa.Drop()
		}
		sout.Drop()
		sin.Drop()
		sf.Drop()
		server.drop()
		cout.Drop()
		cin.Drop()
		cf.Drop()
		client.drop()
	},
	// The handshake suspended at verify-server-identity with the chain
	// taken; the future, then the handshake dropped (an abort at the
	// hook), the connection dropped, and the chain dropped last.
	"verify-hook-drop": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		fv, err := hs.VerifyServerIdentity()
		must("verify-server-identity", err)
		wasinet.Await(fv.Subscribe())
		id, some, _, err := fv.Get()
		if err != nil || !some {
			fmt.Println("verify:", some, err)
			os.Exit(1)
		}
		fv.Drop()
		hs.Drop()
		conn.Drop()
		sock.Drop()
		if len(id.ExportX509Chain()) == 0 {
			fmt.Println("empty chain")
		}
		id.Drop()
	},
	// The server's certificate request answered with an identity the
	// guest then drops before finish; the connection completes with it.
	"respond-drop-identity": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		fr, err := hs.ReceiveClientIdentityRequest()
		must("receive-client-identity-request", err)
		wasinet.Await(fr.Subscribe())
		req, some, _, err := fr.Get()
		if err != nil || !some {
			fmt.Println("request:", some, err)
			os.Exit(1)
		}
		id, err := tls.ParsePrivateIdentity(keyPEM, [][]byte{certPEM})
		must("parse", err)
		tls.ClientIdentityRequestRespond(req, []tls.PrivateIdentity{id, id})
		id.Drop()
		fr.Drop()
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, _, err := f.Get()
		must("get", err)
		if cid, ok := conn.ClientIdentity(); ok {
			cid.Drop()
		} else {
			fmt.Println("no client identity after its handle was dropped")
		}
		cout.Drop()
		cin.Drop()
		f.Drop()
		conn.Drop()
		sock.Drop()
	},
	// A handshake to a silent peer that the host's handshake timeout
	// ends: get twice, subscribe after the value was taken, everything
	// dropped.
	"timeout-get": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		if _, _, _, err := f.Get(); err == nil {
			fmt.Println("a handshake with a silent peer completed")
		}
		if _, _, ready, err := f.Get(); !ready || err == nil {
			fmt.Println("second get:", ready, err)
		}
		wasinet.Await(f.Subscribe())
		f.Drop()
		conn.Drop()
		sock.Drop()
	},
	// A handshake to a silent peer run on the guest's waits with a
	// deadline (paused at the deadline, see the host's pausable), then
	// dropped while paused: the connection, the socket, the future last.
	"pause-drop": func(silent, _ uint16) {
		sock, in, out := dial(silent)
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		p := f.Subscribe()
		for range 2 {
			timer := clocks.SubscribeDuration(clocks.Duration(5 * time.Millisecond))
			wio.Poll([]wio.Pollable{p, timer})
			timer.Drop()
		}
		p.Drop()
		f.Drop()
		conn.Drop()
		sock.Drop()
	},
	// TLS inside TLS whose inner handshake gets its own ClientHello
	// back (the echo server) and fails, or is still running when the
	// guest drops the inner connection, then the outer.
	"tunnel-echo-drop-inner": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		outer := tls.NewClientConnection(in, out)
		hs, err := outer.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, _, err := f.Get()
		must("get", err)
		inner := tls.NewClientConnection(cin, cout)
		ihs, err := inner.Connect(host)
		must("inner connect", err)
		fi := tls.ClientHandshakeFinish(ihs)
		ready(fi.Subscribe())
		fi.Drop()
		inner.Drop()
		f.Drop()
		outer.Drop()
		sock.Drop()
	},
	// TLS inside TLS whose outer peer reads nothing once its handshake
	// is done: the guest fills the outer cleartext stream, starts the
	// inner handshake (whose first write waits for the outer stream) and
	// aborts it, then drops everything.
	"tunnel-stuck-abort": func(_, tlsPort uint16) {
		sock, in, out := dial(tlsPort)
		outer := tls.NewClientConnection(in, out)
		hs, err := outer.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, _, err := f.Get()
		must("get", err)
		chunk := make([]byte, 64<<10)
		for filled := 0; ; {
			n, err := cout.CheckWrite()
			must("check-write", err)
			if n == 0 {
				// Full once the stream stays unwritable for a while.
				p, timer := cout.Subscribe(), clocks.SubscribeDuration(clocks.Duration(50*time.Millisecond))
				wio.Poll([]wio.Pollable{p, timer})
				full := !p.Ready()
				p.Drop()
				timer.Drop()
				if full {
					break
				}
				continue
			}
			must("write", cout.Write(chunk[:min(n, uint64(len(chunk)))]))
			if filled += int(n); filled > 256<<20 {
				fmt.Println("the outer stream never filled")
				os.Exit(1)
			}
		}
		inner := tls.NewClientConnection(cin, cout)
		ihs, err := inner.Connect(host)
		must("inner connect", err)
		fv, err := ihs.VerifyServerIdentity()
		must("inner verify-server-identity", err)
		ready(fv.Subscribe())
		fv.Drop()
		wasinet.Await(tls.ClientHandshakeAbort(ihs))
		inner.Drop()
		f.Drop()
		outer.Drop()
		sock.Drop()
	},
}

// The guest's own listener, for the server scenarios, and the identity
// its server connections present.
var (
	listener        sockets.TCPSocket
	listenPort      uint16
	keyPEM, certPEM []byte
)

// end is one side of a connection with the guest itself.
type end struct {
	sock  sockets.TCPSocket
	conn  tls.ClientConnection
	sconn tls.ServerConnection
}

func (e end) drop() {
	if e.conn != 0 {
		e.conn.Drop()
	}
	if e.sconn != 0 {
		e.sconn.Drop()
	}
	e.sock.Drop()
}

// pair connects a client connection of the guest to a server connection
// of the guest over its listener.
func pair() (client, server end) {
	sock, in, out := dial(listenPort)
	client = end{sock: sock, conn: tls.NewClientConnection(in, out)}
	ssock, sin, sout, err := wasinet.Accept(listener)
	must("tcp accept", err)
	server = end{sock: ssock, sconn: tls.NewServerConnection(sin, sout)}
	return client, server
}

// drive waits until target is ready, waiting on others too, so that
// the handshakes behind them all make progress.
func drive(target wio.Pollable, others ...wio.Pollable) {
	all := append([]wio.Pollable{target}, others...)
	for !target.Ready() {
		wio.Poll(all)
	}
}

func main() {
	mode := os.Args[1]
	host = os.Args[2]
	silent, _ := strconv.ParseUint(os.Args[3], 10, 16)
	tlsPort, _ := strconv.ParseUint(os.Args[4], 10, 16)
	n, _ := strconv.Atoi(os.Args[5])
	limit, _ := strconv.Atoi(os.Args[6])
	run, ok := scenarios[mode]
	if !ok {
		fmt.Println("unknown mode", mode)
		os.Exit(2)
	}
	if len(os.Args) > 8 {
		var err error
		keyPEM, err = os.ReadFile(os.Args[7])
		must("key", err)
		certPEM, err = os.ReadFile(os.Args[8])
		must("cert", err)
		ln, bound, err := wasinet.Listen("127.0.0.1:0")
		must("listen", err)
		listener, listenPort = ln, bound.Port()
	}
	stdin := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	stdin.ReadString('\n')
	for i := range n {
		start := time.Now()
		run(uint16(silent), uint16(tlsPort))
		if d := time.Since(start); d > 10*time.Second {
			fmt.Printf("round %d took %v\n", i+1, d.Round(time.Second))
		}
	}
	slots(uint16(silent), limit)
	fmt.Println("checkpoint")
	stdin.ReadString('\n')
}

// slots makes limit handshakes pending at once, then drops them.
func slots(port uint16, limit int) {
	type held struct {
		sock sockets.TCPSocket
		conn tls.ClientConnection
		hs   tls.ClientHandshake
	}
	var hs []held
	for i := range limit {
		sock, in, out := dial(port)
		conn := tls.NewClientConnection(in, out)
		h, err := conn.Connect(host)
		if err != nil {
			reason, _ := tlsext.ClientLastError(conn)
			fmt.Printf("slot %d: %v (%s)\n", i+1, err, reason)
			conn.Drop()
			sock.Drop()
			break
		}
		hs = append(hs, held{sock, conn, h})
	}
	if len(hs) == limit {
		fmt.Println("slots ok")
	}
	for _, h := range hs {
		h.hs.Drop()
		h.conn.Drop()
		h.sock.Drop()
	}
}
