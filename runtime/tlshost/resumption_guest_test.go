package tlshost_test

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

const resumeGuest = "./testdata/resume"

// resumedLines are the lines the resume guest prints for connections that
// resumed as want says, one per connection.
func resumedLines(want ...bool) []string {
	out := make([]string, len(want))
	for i, w := range want {
		out[i] = fmt.Sprintf("conn %d: resumed=%v", i, w)
	}
	return out
}

// goResumptionServer serves n connections with one crypto/tls config (so
// one set of ticket keys), answering a line with "hello LINE", and
// reports whether each resumed.
func goResumptionServer(t *testing.T, p *guestPKI, n int) (addr string, resumed func() []bool) {
	t.Helper()
	return goResumptionServerWith(t, p.local.TLSCertificate(), n)
}

// goResumptionServerWith is goResumptionServer presenting cert.
func goResumptionServerWith(t *testing.T, cert tls.Certificate, n int) (addr string, resumed func() []bool) {
	t.Helper()
	addr, states := goServerStates(t, &tls.Config{Certificates: []tls.Certificate{cert}}, n)
	return addr, func() []bool {
		var got []bool
		for _, st := range states() {
			got = append(got, st.DidResume)
		}
		return got
	}
}

// goServerStates serves n connections with cfg, answering a line with
// "hello LINE", and reports the state of each handshake that succeeded.
func goServerStates(t *testing.T, cfg *tls.Config, n int) (addr string, states func() []tls.ConnectionState) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got []tls.ConnectionState
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, cfg)
			tc.SetDeadline(time.Now().Add(20 * time.Second))
			if err := tc.Handshake(); err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			got = append(got, tc.ConnectionState())
			mu.Unlock()
			line, _ := bufio.NewReader(tc).ReadString('\n')
			io.WriteString(tc, "hello "+line)
			tc.Close()
		}
	}()
	return ln.Addr().String(), func() []tls.ConnectionState {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the Go server did not serve every connection")
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// TestGuestClientResumption: .NET AllowTlsResume and isSessionReused,
// Node's session reuse, on a client. A guest/tls client connects three
// times, one after another; the host keeps the sessions (the guest never
// sees a ticket) and the second and third connections resume, against a
// crypto/tls server and against openssl s_server (TLS 1.3, and TLS 1.2 on
// stdtls), on both backends, and
// ConnectionState.DidResume (client-session-resumed) says so; a resumed
// connection still runs verify-server-identity, with the session's chain.
// With
// SessionTicketsDisabled (configure-client-resumption false), or with the
// host's cache off (Config.SessionCacheSize < 0), none resumes.
func TestGuestClientResumption(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			name     string
			cacheCap int
			args     []string
			want     []bool
		}{
			{"on", 0, nil, []bool{false, true, true}},
			{"verify", 0, []string{"verify"}, []bool{false, true, true}},
			{"guest-off", 0, []string{"off"}, []bool{false, false, false}},
			{"host-off", -1, nil, []bool{false, false, false}},
		} {
			t.Run("go/"+tc.name, func(t *testing.T) {
				addr, served := goResumptionServer(t, p, 3)
				g := startGuestWith(t, tlshost.Config{BackendName: backend, SessionCacheSize: tc.cacheCap}, p, resumeGuest, nil,
					append([]string{"client", addr, "3"}, tc.args...)...)
				out, err := g.wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				mustContain(t, out, resumedLines(tc.want...)...)
				mustContain(t, out, "conn 2: read hello ping\n")
				if tc.name == "verify" && strings.Count(out, "verify: 1 certificates\n") != 3 {
					t.Errorf("verify-server-identity ran %d times with the chain, want 3 (resumed or not):\n%s", strings.Count(out, "verify: 1 certificates\n"), out)
				}
				if got := served(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("the Go server saw resumptions %v, want %v", got, tc.want)
				}
			})
		}
		versions := []string{"-tls1_3"}
		if backend == "stdtls" {
			versions = append(versions, "-tls1_2") // circl-pq speaks TLS 1.3 only
		}
		for _, v := range versions {
			t.Run("openssl"+v, func(t *testing.T) {
				openssl := testpeer.OpenSSL.Path(t)
				addr, sout := startOpenSSLServer(t, openssl, "-naccept", "3", "-rev", v,
					"-cert", filepath.Join(p.dir, "localhost.pem"), "-key", filepath.Join(p.dir, "localhost.key"))
				out, err := startGuest(t, backend, p, resumeGuest, nil, "client", addr, "3").wait(t)
				if err != nil {
					t.Fatalf("%v\n%s\nopenssl:\n%s", err, out, sout.String())
				}
				mustContain(t, out, resumedLines(false, true, true)...)
				mustContain(t, out, "conn 2: read gnip\n")
			})
		}
	})
}

// TestGuestServerResumption: .NET AllowTlsResume, Node's sessions and
// ticket keys, on a server. A Go client that caches sessions connects
// twice to a guest/tls server: the second connection resumes, sealed with
// the host's ticket keys (the guest never sees them), on both backends,
// and ConnectionState.DidResume (server-session-resumed) says so. With
// SessionTicketsDisabled (configure-server-resumption false) before the
// handshake or at receive-client-hello, or with the host's tickets off
// (Config.TicketKeyRotation < 0), none resumes.
func TestGuestServerResumption(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			name     string
			rotation time.Duration
			arg      string
			want     []bool
		}{
			{"on", 0, "", []bool{false, true}},
			{"guest-off", 0, "off", []bool{false, false}},
			{"guest-off-at-hello", 0, "off-at-hello", []bool{false, false}},
			{"host-off", -1, "", []bool{false, false}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				args := []string{"server", "2"}
				if tc.arg != "" {
					args = append(args, tc.arg)
				}
				g := startGuestWith(t, tlshost.Config{BackendName: backend, TicketKeyRotation: tc.rotation}, p, resumeGuest, nil, args...)
				port := g.port(t)
				cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
				for i, want := range tc.want {
					st, got, err := auditExchange(t, port, cfg)
					if err != nil || got != "hello ping\n" {
						t.Fatalf("connection %d: %q, %v", i, got, err)
					}
					if st.DidResume != want {
						t.Errorf("connection %d: resumed %v, want %v", i, st.DidResume, want)
					}
				}
				out, err := g.wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				mustContain(t, out, resumedLines(tc.want...)...)
			})
		}
	})
}

// TestGuestServerResumptionOpenSSL: openssl s_client saves the session a
// guest/tls server issued (-sess_out) and resumes it (-sess_in), on both
// backends; the guest sees the second connection resumed.
func TestGuestServerResumptionOpenSSL(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, resumeGuest, nil, "server", "2")
		port := g.port(t)
		sess := filepath.Join(t.TempDir(), "session.pem")
		for i, c := range []struct{ flag, want string }{{"-sess_out", "New, TLSv1.3"}, {"-sess_in", "Reused, TLSv1.3"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", "127.0.0.1:"+port, "-servername", "localhost",
				"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error", "-ign_eof", c.flag, sess)
			cmd.Stdin = strings.NewReader("ping\n")
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "hello ping") {
				t.Fatalf("s_client %d (%s): %v, want %q and the answer:\n%s", i, c.flag, err, c.want, out)
			}
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, resumedLines(false, true)...)
	})
}

// TestGuestServerTicketKeyRotation: the host's ticket keys rotate
// (Config.TicketKeyRotation, on the host's clock Config.Time). A ticket
// sealed with a key that stopped sealing still resumes within the next
// rotation; once its key is two rotations old it no longer does, on both
// backends, against a Go client that caches sessions.
func TestGuestServerTicketKeyRotation(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		var skew atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		const rotation = time.Hour
		g := startGuestWith(t, tlshost.Config{BackendName: backend, TicketKeyRotation: rotation, Time: clock}, p, resumeGuest, nil, "server", "3")
		port := g.port(t)
		cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		for i, step := range []struct {
			advance time.Duration // before the connection
			want    bool
		}{
			{0, false},
			{rotation * 3 / 2, true},          // a new key seals; the first still opens
			{rotation*2 + rotation/10, false}, // the second key is past two rotations
		} {
			skew.Add(int64(step.advance))
			st, got, err := auditExchange(t, port, cfg)
			if err != nil || got != "hello ping\n" {
				t.Fatalf("connection %d: %q, %v", i, got, err)
			}
			if st.DidResume != step.want {
				t.Errorf("connection %d: resumed %v, want %v", i, st.DidResume, step.want)
			}
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, resumedLines(false, true, false)...)
	})
}

// TestGuestSessionsPerGuest: the host keeps client sessions per guest,
// never shared. Two guests of one runtime and one host connect to the
// same server one after the other: the first guest's second connection
// resumes its session, the second guest's first connection does not, on
// both backends, though the server would accept the first guest's ticket
// from anyone.
func TestGuestSessionsPerGuest(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		addr, served := goResumptionServer(t, p, 4)
		gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
		out, err := gr.start(t, resumeGuest, nil, "client", addr, "2").wait(t)
		if err != nil {
			t.Fatalf("first guest: %v\n%s", err, out)
		}
		mustContain(t, out, resumedLines(false, true)...)
		out, err = gr.start(t, resumeGuest, nil, "client", addr, "2").wait(t)
		if err != nil {
			t.Fatalf("second guest: %v\n%s", err, out)
		}
		mustContain(t, out, resumedLines(false, true)...)
		if got := served(); fmt.Sprint(got) != fmt.Sprint([]bool{false, true, false, true}) {
			t.Errorf("the Go server saw resumptions %v, want [false true false true]", got)
		}
	})
}

// TestGuestSessionsPerPort: a guest's client sessions are kept per server
// name and port, so that a session made with one server is offered to no
// other that answers to the same name on another port. Two crypto/tls
// servers on two loopback ports share one certificate and one set of
// ticket keys (one tls.Config); a guest connects to "localhost" on the
// first, the second, the first and the second again: the second's first
// ClientHello carries no pre_shared_key and its handshake is full, and
// each server's second connection resumes its own session, on both
// backends. Before, the sessions were keyed by the name alone: the
// first server's ticket was offered to the second, which resumed it.
func TestGuestSessionsPerPort(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		var mu sync.Mutex
		var offered []string // per ClientHello: the server's port and whether it held a PSK
		cfg := &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			_, port, _ := net.SplitHostPort(hello.Conn.LocalAddr().String())
			psk := false
			for _, ext := range hello.Extensions {
				psk = psk || ext == 41 // pre_shared_key (RFC 8446, Section 4.2.11)
			}
			mu.Lock()
			offered = append(offered, fmt.Sprintf("%s psk=%v", port, psk))
			mu.Unlock()
			return nil, nil
		}
		addrA, statesA := goServerStates(t, cfg, 2)
		addrB, statesB := goServerStates(t, cfg, 2)
		out, err := startGuest(t, backend, p, resumeGuest, nil, "client", addrA+","+addrB, "4").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, resumedLines(false, false, true, true)...)
		for _, s := range []struct {
			addr   string
			states func() []tls.ConnectionState
		}{{addrA, statesA}, {addrB, statesB}} {
			var got []bool
			for _, st := range s.states() {
				got = append(got, st.DidResume)
			}
			if fmt.Sprint(got) != "[false true]" {
				t.Errorf("the server on %s saw resumptions %v, want [false true]", s.addr, got)
			}
		}
		_, portA, _ := net.SplitHostPort(addrA)
		_, portB, _ := net.SplitHostPort(addrB)
		want := []string{portA + " psk=false", portB + " psk=false", portA + " psk=true", portB + " psk=true"}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(offered) != fmt.Sprint(want) {
			t.Errorf("ClientHellos %v, want %v", offered, want)
		}
	})
}

// TestGuestResumptionKeepsNoClientIdentity: a guest's connection that
// presented a client certificate leaves no session behind, so that a
// later connection of the guest that presents none does not pass for the
// first's identity. A guest/tls client connects three times to a
// crypto/tls server that asks for a certificate and accepts none: as
// "guest client", then twice with no identity. The second makes a full
// handshake and the server sees no certificate; the third resumes the
// second's session, anonymous too; on both backends. Before, the second
// resumed the first's session: a resumption sends no certificate, and
// the server took the anonymous connection for "guest client", whose
// certificate its ticket held.
func TestGuestResumptionKeepsNoClientIdentity(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		addr, states := goServerStates(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()},
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.ca.Pool()}, 3)
		out, err := startGuest(t, backend, p, resumeGuest, nil, "client", addr, "3", "as=client,none,none").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, resumedLines(false, false, true)...)
		mustContain(t, out, "conn 2: read hello ping\n")
		var seen []string
		for _, st := range states() {
			who := "none"
			if len(st.PeerCertificates) > 0 {
				who = st.PeerCertificates[0].Subject.CommonName
			}
			seen = append(seen, fmt.Sprintf("resumed=%v client=%s", st.DidResume, who))
		}
		want := []string{"resumed=false client=guest client", "resumed=false client=none", "resumed=true client=none"}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("the Go server saw %q, want %q", seen, want)
		}
	})
}

// TestGuestTicketBoundToIdentity: a ticket resumes only at a server that
// presents the identity it was issued under. Two guest servers of one host
// share its ticket keys, one with the localhost identity, one with
// example.com's. A Go client that holds a ticket from the first offers it
// to the second under the same server name: the second does not resume
// it but runs a full handshake, whose certificate the client refuses (it
// is not localhost's), on both backends. Resumed, the client would have
// taken the second guest for the first without any proof of its key.
func TestGuestTicketBoundToIdentity(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
		first := gr.start(t, resumeGuest, nil, "server", "1")
		second := gr.start(t, resumeGuest, nil, "server", "1", "example")
		cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		if _, got, err := auditExchange(t, first.port(t), cfg); err != nil || got != "hello ping\n" {
			t.Fatalf("first guest: %q, %v", got, err)
		}
		st, got, err := auditExchange(t, second.port(t), cfg)
		if err == nil {
			t.Fatalf("the second guest passed for localhost: resumed %v, answered %q", st.DidResume, got)
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("the client's error is not about the certificate: %v", err)
		}
		out, err := second.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "conn 0: handshake failed")
		if out, err := first.wait(t); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

// TestGuestClientIdentityAcrossGuests: a client identity one guest's
// server verified reaches another guest's server of the host only through
// that server's own request and verification. Three guest servers of one
// host present the same certificate (so each opens the others' tickets):
// A and C ask for a client certificate, B does not. A Go client that
// presents "guest client" and caches sessions connects to A, then C, then
// B. C sees the client as A did, its own request-client-identity
// answered (stdtls resumes A's ticket, whose chain it verifies again;
// circl-pq issues no ticket to a client it asked for a certificate, so C
// makes a full handshake); B, which asked for none, resumes no session
// that carries one and sees no client. A second client, with its own
// cache, connects to B', which asks for nothing, then to D, which asks:
// D resumes no session without a certificate but asks the client, and
// sees it. Before, stdtls resumed B's session at D, the client was never
// asked, and D saw no client.
func TestGuestClientIdentityAcrossGuests(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
		a := gr.start(t, resumeGuest, nil, "server", "1", "request")
		c := gr.start(t, resumeGuest, nil, "server", "1", "request")
		b := gr.start(t, resumeGuest, nil, "server", "1")
		b2 := gr.start(t, resumeGuest, nil, "server", "1")
		d := gr.start(t, resumeGuest, nil, "server", "1", "request")
		for _, order := range [][]*guest{{a, c, b}, {b2, d}} {
			cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4),
				Certificates: []tls.Certificate{p.client.TLSCertificate()}}
			for _, g := range order {
				if _, got, err := auditExchange(t, g.port(t), cfg); err != nil || got != "hello ping\n" {
					t.Fatalf("%q, %v", got, err)
				}
			}
		}
		resumedAtC := backend == "stdtls"
		for _, w := range []struct {
			name string
			g    *guest
			line string
		}{
			{"A", a, "conn 0: resumed=false client=guest client\n"},
			{"C", c, fmt.Sprintf("conn 0: resumed=%v client=guest client\n", resumedAtC)},
			{"B", b, "conn 0: resumed=false\n"},
			{"B'", b2, "conn 0: resumed=false\n"},
			{"D", d, "conn 0: resumed=false client=guest client\n"},
		} {
			out, err := w.g.wait(t)
			if err != nil {
				t.Fatalf("%s: %v\n%s", w.name, err, out)
			}
			if !strings.Contains(out, w.line) {
				t.Errorf("guest %s printed %q, want %q", w.name, out, w.line)
			}
		}
	})
}

// BenchmarkGuestResumption: the resume guest, a wasm guest/tls client,
// makes 32 connections one after another to a crypto/tls server over
// loopback, with resumption on (the first connection full, 31 resumed,
// which the benchmark checks) and off (32 full). The two runs alternate in
// the same process; each includes instantiating the guest and its reads
// and writes. It reports the time per connection of each and their ratio.
//
//	go test -run '^$' -bench GuestResumption ./runtime/tlshost
func BenchmarkGuestResumption(b *testing.B) {
	const conns = 32
	ca, err := testpki.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "hello "+line)
			}()
		}
	}()
	wasm := guestbuild.MustBuild(b, resumeGuest)
	for _, backend := range backends.Names() {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compilationCache))
			defer r.Close(ctx)
			policy := new(sockets.Policy)
			policy.AllowConnect("127.0.0.1:*")
			ext := tlshost.New(tlshost.Config{BackendName: backend, RootCAs: ca.Pool()})
			rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{ext}})
			if err != nil {
				b.Fatal(err)
			}
			compiled, err := r.CompileModule(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			run := func(mode string) time.Duration {
				var out syncbuf.Buffer
				args := []string{"resume", "client", ln.Addr().String(), strconv.Itoa(conns)}
				if mode != "" {
					args = append(args, mode)
				}
				start := time.Now()
				_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: args, Stdout: &out, Stderr: &out})
				d := time.Since(start)
				want := conns - 1
				if mode == "off" {
					want = 0
				}
				if got := strings.Count(out.String(), "resumed=true"); err != nil || got != want {
					b.Fatalf("%s: %v, %d resumed, want %d:\n%s", cmp.Or(mode, "on"), err, got, want, out.String())
				}
				return d
			}
			var on, off time.Duration
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					on += run("")
					off += run("off")
				} else {
					off += run("off")
					on += run("")
				}
				i++
			}
			n := float64(i * conns)
			b.ReportMetric(float64(off.Nanoseconds())/n, "ns-full/conn")
			b.ReportMetric(float64(on.Nanoseconds())/n, "ns-resumed/conn")
			b.ReportMetric(float64(on)/float64(off), "resumed/full")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestGuestSessionCacheCap crosses the session cache's cap from a wasm
// guest: it connects to three server names in turn, twice. With room for
// two sessions (Config.SessionCacheSize, --session-cache-size) each new
// name evicts the least recently stored, so no connection resumes; with
// room for three, the second round resumes all three. Both backends.
func TestGuestSessionCacheCap(t *testing.T) {
	p := newGuestPKI(t)
	names := []string{"s0.test", "s1.test", "s2.test"}
	leaf, err := p.ca.Issue(testpki.LeafOptions{DNSNames: names})
	if err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			size int
			want []bool
		}{
			{2, []bool{false, false, false, false, false, false}},
			{3, []bool{false, false, false, true, true, true}},
		} {
			t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
				addr, served := goResumptionServerWith(t, leaf.TLSCertificate(), len(tc.want))
				g := startGuestWith(t, tlshost.Config{BackendName: backend, SessionCacheSize: tc.size}, p, resumeGuest, nil,
					"client", addr, fmt.Sprint(len(tc.want)), "names="+strings.Join(names, ","))
				out, err := g.wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				mustContain(t, out, resumedLines(tc.want...)...)
				if got := served(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("the Go server saw resumptions %v, want %v", got, tc.want)
				}
			})
		}
	})
}
