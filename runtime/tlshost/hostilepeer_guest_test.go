package tlshost_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Hostile peers of a wasm guest, through the host, on both backends: the
// other end of a guest's connection floods it after the handshake, sends a
// certificate chain that is costly to validate, or trickles bytes while
// the guest closes. Each ends with an error the guest can read, within
// seconds, with no goroutine or descriptor left behind once the guest is
// gone.

// hostileServer accepts one connection on a loopback listener and runs
// attack on it; it returns the listener's address.
func hostileServer(t *testing.T, attack func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		attack(c)
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// keyUpdateFlood has an established circl-pq connection send KeyUpdates
// asking for an update, with no data between them, until its peer gives up.
func keyUpdateFlood(c *circlpq.Conn) {
	if err := c.Handshake(context.Background()); err != nil {
		return
	}
	for range 1000 {
		if c.KeyUpdate(true) != nil {
			break
		}
	}
	c.Read(make([]byte, 1)) // the peer's alert
}

// TestGuestHostilePeerKeyUpdates: a peer that floods a guest with
// KeyUpdates asking for an answer, client or server, with no data: the
// guest's read fails (circl-pq after 32 KeyUpdates, crypto/tls after 16)
// well before the flood ends, and every goroutine of the connection is
// gone once the guest is.
func TestGuestHostilePeerKeyUpdates(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, "./testdata/stream")
	guestbuild.MustBuild(t, giveUpGuest)
	before, fds := goroutines(), openFDs(t)
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("guest-client", func(t *testing.T) {
			addr := hostileServer(t, func(raw net.Conn) {
				c, err := circlpq.Server(raw, &backends.ServerConfig{Identities: []*backends.Identity{p.local.Identity()}})
				if err != nil {
					t.Error(err)
					return
				}
				keyUpdateFlood(c)
			})
			start := time.Now()
			out, err := startGuest(t, backend, p, "./testdata/stream", nil, addr, "0").wait(t)
			if err == nil {
				t.Fatalf("the guest read through a KeyUpdate flood:\n%s", out)
			}
			mustContain(t, out, "error: read after 0 bytes: ", "tls: ")
			t.Logf("%s after %v", out, time.Since(start))
		})
		t.Run("guest-server", func(t *testing.T) {
			g := startGuest(t, backend, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1")
			port := g.port(t)
			raw, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(20 * time.Second))
			c, err := circlpq.Client(raw, &backends.ClientConfig{ServerName: "localhost", RootCAs: p.ca.Pool()})
			if err != nil {
				t.Fatal(err)
			}
			keyUpdateFlood(c)
			m := g.waitOutput(t, 10*time.Second, `read failed: (.*)\n`)
			mustContain(t, m[1], "tls: ")
			// The guest serves the next client.
			if err := helloClient(p, port, 10*time.Second); err != nil {
				t.Fatalf("client after the flood: %v\n%s", err, g.out.String())
			}
			g.waitExit(t, 10*time.Second)
		})
	})
	waitSettled(t, before, fds)
}

// TestGuestKeyUpdateAfterCloseNotify: a server that, once the guest sent
// close_notify, asks for a key update and then answers is read to the end
// on both backends. crypto/tls skips its read key update when it cannot
// write the KeyUpdate asked for, as after its own close_notify; stdtls
// drops what crypto/tls writes after close_notify, so the update goes
// through.
func TestGuestKeyUpdateAfterCloseNotify(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, "./testdata/stream")
	eachBackend(t, func(t *testing.T, backend string) {
		addr := hostileServer(t, func(raw net.Conn) {
			c, err := circlpq.Server(raw, &backends.ServerConfig{Identities: []*backends.Identity{p.local.Identity()}})
			if err != nil || c.Handshake(context.Background()) != nil {
				return
			}
			got, err := io.ReadAll(c) // up to the guest's close_notify
			if err != nil {
				t.Errorf("server read: %v", err)
				return
			}
			for _, requested := range []bool{true, true, false} {
				if err := c.KeyUpdate(requested); err != nil {
					t.Errorf("KeyUpdate: %v", err)
					return
				}
				if _, err := c.Write(got); err != nil {
					t.Errorf("server write: %v", err)
					return
				}
			}
			c.CloseWrite()
		})
		out, err := startGuest(t, backend, p, "./testdata/stream", nil, addr, "1000").wait(t)
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, out)
		}
		mustContain(t, out, "read 3000 bytes")
	})
}

// TestGuestHostileCertificateRequests: a circl-pq server that asks a
// guest client for its certificate again and again after the handshake
// (the host's circl-pq client offers post-handshake authentication) gets
// 16 answers; the 17th request fails the guest's read with the reason,
// since each answer can cost the client a signature. stdtls clients offer
// no post-handshake authentication, so there is nothing to flood.
func TestGuestHostileCertificateRequests(t *testing.T) {
	p := newGuestPKI(t)
	const guest = "github.com/wasitls/wasitls/examples/client-minimal"
	guestbuild.MustBuild(t, guest)
	before, fds := goroutines(), openFDs(t)
	answered := make(chan int, 1)
	t.Run("circl-pq", func(t *testing.T) {
		addr := hostileServer(t, func(raw net.Conn) {
			c, err := circlpq.Server(raw, &backends.ServerConfig{Identities: []*backends.Identity{p.local.Identity()}})
			if err != nil || c.Handshake(context.Background()) != nil {
				answered <- -1
				return
			}
			c.Read(make([]byte, 4096)) // the request
			n := 0
			for range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.RequestClientIdentity(ctx)
				cancel()
				if err != nil {
					break
				}
				n++
			}
			answered <- n
		})
		_, port, _ := net.SplitHostPort(addr)
		out, err := startGuest(t, "circl-pq", p, guest, nil, "localhost", port).wait(t)
		if err == nil {
			t.Fatalf("the guest read through 20 certificate requests:\n%s", out)
		}
		mustContain(t, out, "client-minimal: read: ", "more than 16 post-handshake certificate requests")
		if n := <-answered; n != 16 {
			t.Errorf("the guest answered %d requests; want 16", n)
		}
	})
	waitSettled(t, before, fds)
}

// scriptedServerHello reads a ClientHello from c and answers with a
// ServerHello for TLS 1.3 and TLS_AES_128_GCM_SHA256 that selects group:
// with a 32-byte key share, or, for hrr, as a HelloRetryRequest. It returns
// the alert the client sends back.
func scriptedServerHello(c net.Conn, group uint16, hrr bool) (byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return 0, err
	}
	rec := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, rec); err != nil {
		return 0, err
	}
	// handshake header (4), legacy_version (2), random (32), session ID
	sid := rec[4+2+32+1 : 4+2+32+1+int(rec[4+2+32])]
	random := make([]byte, 32)
	if hrr {
		r := sha256.Sum256([]byte("HelloRetryRequest"))
		random = r[:]
	}
	ext := []byte{0x00, 0x2b, 0, 2, 3, 4} // supported_versions: TLS 1.3
	if hrr {
		ext = append(ext, 0x00, 0x33, 0, 2, byte(group>>8), byte(group))
	} else {
		share := bytes.Repeat([]byte{9}, 32)
		ext = append(ext, 0x00, 0x33, 0, byte(4+len(share)), byte(group>>8), byte(group), 0, byte(len(share)))
		ext = append(ext, share...)
	}
	body := append([]byte{3, 3}, random...)
	body = append(append(append(body, byte(len(sid))), sid...), 0x13, 0x01, 0)
	body = append(append(body, byte(len(ext)>>8), byte(len(ext))), ext...)
	msg := append([]byte{2, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	if _, err := c.Write(append([]byte{22, 3, 3, byte(len(msg) >> 8), byte(len(msg))}, msg...)); err != nil {
		return 0, err
	}
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return 0, err
		}
		rec := make([]byte, int(hdr[3])<<8|int(hdr[4]))
		if _, err := io.ReadFull(c, rec); err != nil {
			return 0, err
		}
		if hdr[0] == 21 && len(rec) == 2 {
			return rec[1], nil
		}
	}
}

// TestGuestRefusesGroupDowngrade: a guest client that allows only
// X25519MLKEM768 (configure-client-groups) meets a server that selects
// X25519 anyway, in a ServerHello or a HelloRetryRequest. On both
// backends the handshake fails, the server receives illegal_parameter and
// the guest reads why; no key exchange with the classical group happens.
func TestGuestRefusesGroupDowngrade(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, "./testdata/configure")
	eachBackend(t, func(t *testing.T, backend string) {
		for _, hrr := range []bool{false, true} {
			name := "server-hello"
			if hrr {
				name = "hello-retry-request"
			}
			t.Run(name, func(t *testing.T) {
				alert := make(chan byte, 1)
				addr := hostileServer(t, func(c net.Conn) {
					a, err := scriptedServerHello(c, 0x001d, hrr)
					if err != nil {
						t.Errorf("scripted server: %v", err)
					}
					alert <- a
				})
				_, port, _ := net.SplitHostPort(addr)
				out, _ := startGuest(t, backend, p, "./testdata/configure", nil, "client", "localhost", port, "groups=0x11ec").wait(t)
				mustContain(t, out, "configure-client-groups: ok", "handshake failed: ")
				t.Logf("%s", out)
				if a := <-alert; a != 47 {
					t.Errorf("the server received alert %d; want illegal_parameter (47)\n%s", a, out)
				}
			})
		}
	})
}

// TestGuestHostileChain: a server whose chain holds 20 ML-DSA
// certificates signing each other (testpki.LoopChain) fails a guest client's handshake within
// seconds on both backends (circl-pq gives up after a bounded number of signature checks;
// crypto/x509 cannot check ML-DSA signatures), not after days of CPU.
func TestGuestHostileChain(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	leaf, err := testpki.LoopChain(20, testpki.LeafOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert := leaf.TLSCertificate()
	eachBackend(t, func(t *testing.T, backend string) {
		addr := hostileServer(t, func(raw net.Conn) {
			tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
		})
		g := startGuestWith(t, tlshost.Config{BackendName: backend}, p, giveUpGuest, nil, "client", addr, "60s")
		m := g.waitOutput(t, 20*time.Second, `dial: (.*) after (\S+)\n`)
		took, err := time.ParseDuration(m[2])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("dial: %s after %v", m[1], took)
		if m[1] == "<nil>" {
			t.Fatal("the guest accepted the chain")
		}
		if backend == "circl-pq" {
			mustContain(t, m[1], "too many signature checks")
		}
		if took > 10*time.Second {
			t.Errorf("validating the chain took %v", took)
		}
	})
}

// TestGuestServerHostileClientChain: a client that answers a guest
// server's certificate request with 20 mutually signing ML-DSA
// certificates (testpki.LoopChain) is refused within seconds on both
// backends, and sees the alert.
func TestGuestServerHostileClientChain(t *testing.T) {
	p := newGuestPKI(t)
	leaf, err := testpki.LoopChain(20, testpki.LeafOptions{CommonName: "loop client", Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	cert := leaf.TLSCertificate()
	eachBackend(t, func(t *testing.T, backend string) {
		var logs syncbuf.Buffer
		cfg := tlshost.Config{BackendName: backend, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		g := startGuestWith(t, cfg, p, "github.com/wasitls/wasitls/examples/server-showcase", nil,
			"0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", "1")
		port := g.port(t)
		start := time.Now()
		raw, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(20 * time.Second))
		tc := tls.Client(raw, &tls.Config{ServerName: "example.com", RootCAs: p.ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }})
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Read(make([]byte, 1))
		}
		took := time.Since(start)
		t.Logf("client: %v after %v", err, took)
		if err == nil || !strings.Contains(err.Error(), "remote error") {
			t.Errorf("the client's chain was not refused with an alert: %v", err)
		}
		if took > 10*time.Second {
			t.Errorf("refusing the chain took %v", took)
		}
		// The guest's handshake fails; the host logs why (the example
		// does not ask, server-last-error would tell it).
		g.waitOutput(t, 10*time.Second, `connection failed: the handshake failed before the client certificate\n`)
		if backend == "circl-pq" {
			mustContain(t, logs.String(), "too many signature checks")
		}
	})
}

// TestGuestCloseTricklingPeer: a peer that completes the handshake, then
// sends one byte of a record every 100 ms and never close_notify, does not
// hold up a guest that closes the connection: close_notify and the drop
// return at once, on both backends, for a guest client and a guest server
// whose client does not read its answer either.
func TestGuestCloseTricklingPeer(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("guest-server", func(t *testing.T) {
			g := startGuestWith(t, tlshost.Config{BackendName: backend}, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1")
			raw, err := net.Dial("tcp", "127.0.0.1:"+g.port(t))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			tc := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			if _, err := tc.Write([]byte("hi\n")); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go dripRecord(raw, 100*time.Millisecond, stop)
			start := time.Now()
			g.waitExit(t, 10*time.Second)
			t.Logf("the guest served and closed %v after the request", time.Since(start))
		})
		stop := make(chan struct{})
		addr := hostileServer(t, func(raw net.Conn) {
			tc := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			if tc.Handshake() != nil {
				return
			}
			dripRecord(raw, 100*time.Millisecond, stop)
		})
		t.Cleanup(func() { close(stop) })
		t.Run("guest-client", func(t *testing.T) {
			start := time.Now()
			g := startGuestWith(t, tlshost.Config{BackendName: backend}, p, giveUpGuest, nil, "client", addr, "60s")
			g.waitOutput(t, 20*time.Second, `dial: <nil> after`)
			out := g.waitExit(t, 10*time.Second)
			t.Logf("guest exited %v after it started:\n%s", time.Since(start), out)
		})
	})
}
