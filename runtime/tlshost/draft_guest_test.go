package tlshost_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// The upstream draft (wasi:tls/types@0.2.0-draft) from a hostile guest
// (testdata/drafthostile), on both backends.

const draftHostile = "./testdata/drafthostile"

// TestGuestDraftCloseOutputStuck: a guest fills its output to a peer
// that completed the handshake and reads nothing, then calls the draft's
// close-output. The call returns once the host's bound on its flush is
// over, the output stream reports it closed, and the guest ends normally.
// Before, the bound running out ended the guest (the flush's wait took it
// for the guest's own context ending: "module closed with context
// deadline exceeded"). The bound is the guest's send linger
// (runtime.Limits.SendLinger, --send-linger); before, it was a fixed
// 30 s no configuration reached.
func TestGuestDraftCloseOutputStuck(t *testing.T) {
	const bound = 2 * time.Second
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, release := stuckTLSServer(t, p.local.TLSCertificate())
		defer release()
		gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
		g := gr.startWith(t, draftHostile, 30*time.Second, runtime.ModuleConfig{
			Limits: runtime.Limits{SendLinger: bound},
			Dirs:   []runtime.Dir{{Host: p.dir, Guest: "/certs", ReadOnly: true}}}, "close-output-stuck", "localhost", port)
		out, err := g.exitWithin(20 * time.Second)
		if err != nil {
			t.Fatalf("the guest did not end normally: %v", err)
		}
		mustContain(t, out, "check-write after close-output: ", "done")
		if strings.Contains(out, "check-write after close-output: ok") {
			t.Errorf("the output stream still takes writes after close-output:\n%s", out)
		}
		m := regexp.MustCompile(`close-output returned after (\S+)\n`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no close-output:\n%s", out)
		}
		took, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		// The bound and the bounded close after it (closeGrace, twice),
		// with room for a loaded machine.
		if took < bound-time.Second || took > bound+3*time.Second {
			t.Errorf("close-output took %v, bound %v:\n%s", took, bound, out)
		}
	})
}

// TestGuestDraftHostilePeer: peers that send garbage, a record past
// TLS's size, a fatal alert, trickle a handshake, close or reset the
// connection during the handshake, or send garbage, an oversized record
// or nothing more once it completed: through the draft, on both
// backends, the guest reads a reason (the handshake's io-error or its
// stream's error) within the host's handshake timeout, never a trap or a
// hang, and no goroutine or descriptor is left once the guests are gone.
func TestGuestDraftHostilePeer(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, draftHostile)
	const timeout = 2 * time.Second
	serverCfg := &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
	clientHello := func(c net.Conn) {
		c.Read(make([]byte, 4096))
	}
	handshaken := func(c net.Conn) bool {
		return tls.Server(c, serverCfg).Handshake() == nil
	}
	// A record header announcing the most a length can say, 65,535
	// bytes, four times what TLS allows, and that many bytes.
	huge := func(typ byte) []byte {
		return append([]byte{typ, 3, 3, 0xff, 0xff}, make([]byte, 0xffff)...)
	}
	garbage := bytes.Repeat([]byte("this is not TLS\r\n"), 256)
	attacks := []struct {
		name   string
		attack func(c net.Conn)
		want   string // in the guest's output
	}{
		{"garbage", func(c net.Conn) { clientHello(c); c.Write(garbage); c.Read(make([]byte, 1)) }, "handshake failed after"},
		{"huge-record", func(c net.Conn) { clientHello(c); c.Write(huge(22)); c.Read(make([]byte, 1)) }, "handshake failed after"},
		{"alert", func(c net.Conn) { clientHello(c); c.Write([]byte{21, 3, 3, 0, 2, 2, 40}); c.Read(make([]byte, 1)) }, "handshake failed after"},
		{"close", func(c net.Conn) { clientHello(c) }, "handshake failed after"},
		{"reset", func(c net.Conn) { clientHello(c); c.(*net.TCPConn).SetLinger(0) }, "handshake failed after"},
		{"trickle", func(c net.Conn) {
			clientHello(c)
			// A handshake record of a legal size, a byte at a time.
			for _, b := range append([]byte{22, 3, 3, 0x40, 0}, make([]byte, 0x4000)...) {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, "handshake timeout"},
		{"garbage-after", func(c net.Conn) {
			if handshaken(c) {
				c.Write(garbage)
				c.Read(make([]byte, 1))
			}
		}, "read 0 bytes, then: "},
		{"huge-record-after", func(c net.Conn) {
			if handshaken(c) {
				c.Write(huge(23))
				c.Read(make([]byte, 1))
			}
		}, "read 0 bytes, then: "},
		{"close-after", func(c net.Conn) { handshaken(c) }, "read 0 bytes, then: "},
	}
	before, fds := goroutines(), openFDs(t)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				_, port, _ := net.SplitHostPort(hostileServer(t, a.attack))
				cfg := tlshost.Config{BackendName: backend, HandshakeTimeout: timeout}
				out, err := startGuestWith(t, cfg, p, draftHostile, nil, "handshake", "localhost", port).exitWithin(15 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				t.Log(strings.TrimSpace(out))
				m := regexp.MustCompile(regexp.QuoteMeta(a.want) + `(.*)\n`).FindStringSubmatch(out)
				if m == nil || strings.TrimSpace(m[1]) == "" {
					t.Fatalf("no %q with a reason:\n%s", a.want, out)
				}
				if !strings.HasSuffix(out, "done\n") {
					t.Errorf("the guest did not finish:\n%s", out)
				}
			})
		}
	})
	waitSettled(t, before, fds)
}

// TestGuestDraftCaps: what a guest on the draft alone makes the host hold
// counts against the proposal's caps. Handshakes it keeps pending (the
// draft's handshake is pending from its constructor on) stop at
// Config.PendingHandshakes, and their server names at
// Config.SettingsBytes (254-byte names, four in 1 KiB); the next one's
// future fails naming the limit, dropping one makes room again, and a
// name longer than a DNS name, or an empty one, is refused.
func TestGuestDraftCaps(t *testing.T) {
	p := newGuestPKI(t)
	// Silent, and closing each connection once the guest did, so that
	// the descriptors count what the host keeps.
	silent := strconv.Itoa(testnet.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }).Port)
	before, fds := goroutines(), openFDs(t)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, c := range []struct {
			mode string
			cfg  tlshost.Config
			want []string
		}{
			{"pending", tlshost.Config{PendingHandshakes: 8}, []string{
				"admitted 8, then: wasi:tls: handshake failed: tlshost: the guest has 8 handshakes pending, the most allowed (tlshost.Config.PendingHandshakes",
				"after a drop: admitted\n"}},
			{"names", tlshost.Config{PendingHandshakes: 100, SettingsBytes: 1024}, []string{
				"admitted 4, then: wasi:tls: handshake failed: tlshost: settings bytes: ", "more than the 1024 allowed (tlshost.Config.SettingsBytes",
				"after a drop: admitted\n",
				"a name of 255 bytes: wasi:tls: handshake failed: tlshost: connect: a server name of 255 bytes, more than a DNS name's 254",
				"a name of 0 bytes: wasi:tls: handshake failed: tlshost: connect: empty server name"}},
		} {
			t.Run(c.mode, func(t *testing.T) {
				c.cfg.BackendName = backend
				out, err := startGuestWith(t, c.cfg, p, draftHostile, nil, c.mode, "localhost", silent).exitWithin(20 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				mustContain(t, out, append(c.want, "done\n")...)
			})
		}
	})
	waitSettled(t, before, fds)
}

// TestGuestDraftPeerCertBytes: a guest on the draft alone, keeping every
// connection to a server that sends a trusted 200 KiB chain, gets the
// handshakes past Config.PeerCertBytes (1 MiB) fail naming the limit,
// and the host's heap grows by about the limit, not by a chain per
// connection; once it drops a connection, a handshake completes again.
// The draft's chains count as the proposal's do
// (TestGuestPeerCertBytesLimit).
func TestGuestDraftPeerCertBytes(t *testing.T) {
	const limit, chainKiB, n = 1 << 20, 200, 16
	cert := bigCertificate(t, chainKiB)
	port := bigChainServer(t, cert)
	roots := pool(t, cert)
	eachBackend(t, func(t *testing.T, backend string) {
		log, rec := capreporttest.New()
		pr := newLoggedLineGuestRuntime(t, tlshost.Config{BackendName: backend, RootCAs: roots, PeerCertBytes: limit}, draftHostile, log)
		g := pr.start(t, "chains", "localhost", port, fmt.Sprint(n))
		g.next(t, "ready")
		chainsFilled(t, g, rec, limit, chainKiB, n)
		g.tell("drop")
		if out := g.next(t, "after drop: "); out != "after drop: ok" {
			t.Errorf("%s: want a handshake to complete once a connection was dropped", out)
		}
		g.end(t)
	})
}

// TestGuestDraftMisuse: calls the WIT forbids, made through the draft's
// imports (finish twice, drop a finished handshake, use a stream the
// handshake took, one stream as both, drop the connection before its
// streams or the future before its pollable, use a dropped future or
// connection): each traps the guest with a message naming the function
// and what was wrong, never the host; with the handshake running against
// an echo server, and no goroutine or descriptor left once the guests
// are gone.
func TestGuestDraftMisuse(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, draftHostile)
	port := echoTLSServer(t, p.local.TLSCertificate())
	before, fds := goroutines(), openFDs(t)
	for _, c := range []struct{ mode, want string }{
		{"finish-twice", "wasi:tls/types@0.2.0-draft#[static]client-handshake.finish"},
		{"drop-finished", "wasi:tls/types@0.2.0-draft#[resource-drop]client-handshake"},
		{"stream-moved", "wasi:io/streams@0.2.8#[method]output-stream.check-write"},
		{"same-stream", "wasi:tls/types@0.2.0-draft#[constructor]client-handshake"},
		{"drop-connection-first", "wasi:tls/types@0.2.0-draft#[resource-drop]client-connection"},
		{"drop-future-first", "wasi:tls/types@0.2.0-draft#[resource-drop]future-client-streams"},
		{"get-dropped", "wasi:tls/types@0.2.0-draft#[method]future-client-streams.get"},
		{"close-output-dropped", "wasi:tls/types@0.2.0-draft#[method]client-connection.close-output"},
	} {
		eachBackend(t, func(t *testing.T, backend string) {
			t.Run(c.mode, func(t *testing.T) {
				g := startGuest(t, backend, p, draftHostile, nil, c.mode, "localhost", port)
				_, err := g.exitWithin(15 * time.Second)
				out := g.out.String()
				if err == nil {
					t.Fatalf("no trap:\n%s", out)
				}
				t.Logf("%s%v", out, err)
				mustContain(t, out, "trap next: ")
				mustContain(t, err.Error(), c.want)
			})
		})
	}
	waitSettled(t, before, fds)
}

// TestGuestDraftBlockedStopped: a guest blocked without a bound of its
// own on a draft connection's streams, a blocking read from a peer that
// sends nothing and a blocking flush to one that reads nothing, ends
// when the embedder's context does (within a second of it), on both
// backends, with no goroutine or descriptor left.
//
// The context ends once the guest is blocked. It used to be a 3 s
// deadline from the guest's start, which the guest's start and handshake
// had to beat first: on a loaded machine they could take it all, and the
// test failed with no "blocking" line, testing nothing about the stop.
func TestGuestDraftBlockedStopped(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, draftHostile)
	// within bounds the stop: the second the host promises, and room for
	// a loaded machine, which only delays.
	const within = 3 * time.Second
	before, fds := goroutines(), openFDs(t)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, mode := range []string{"block-read", "block-flush"} {
			t.Run(mode, func(t *testing.T) {
				port, release := stuckTLSServer(t, p.local.TLSCertificate())
				defer release()
				gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
				g := gr.startWith(t, draftHostile, time.Minute, runtime.ModuleConfig{}, mode, "localhost", port)
				if _, err := g.outputWithin(30*time.Second, "blocking\n"); err != nil {
					t.Fatal(err)
				}
				blocked := time.Now()
				g.stop()
				_, err := g.exitWithin(within + 10*time.Second)
				took := time.Since(blocked)
				out := g.out.String()
				if err == nil {
					t.Fatalf("want the guest stopped by its context:\n%s", out)
				}
				if strings.Contains(out, "returned") {
					t.Errorf("the wait returned to the guest:\n%s", out)
				}
				t.Logf("stopped %v after its context ended: %v", took, err)
				if took > within {
					t.Errorf("the guest ended %v after its context did, want within %v", took, within)
				}
			})
		}
	})
	waitSettled(t, before, fds)
}
