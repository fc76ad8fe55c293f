package tlshost_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	_ "github.com/wasitls/wasitls/backends/circl-pq"
	_ "github.com/wasitls/wasitls/backends/stdtls"
	custombackend "github.com/wasitls/wasitls/examples/custom-backend"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Guest-level integration: the examples and test guests, built for
// wasip1, run under the runtime with the wasi:tls host, against real peers
// on loopback, over every registered backend.

type guestPKI struct {
	ca              *testpki.CA
	example, local  *testpki.Leaf
	client, blocked *testpki.Leaf
	dir             string // key and chain files, preopened as /certs
}

func newGuestPKI(t *testing.T) *guestPKI {
	t.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	issue := func(o testpki.LeafOptions) *testpki.Leaf {
		l, err := ca.Issue(o)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	p := &guestPKI{
		ca:      ca,
		example: issue(testpki.LeafOptions{DNSNames: []string{"example.com"}}),
		local:   issue(testpki.LeafOptions{}),
		client:  issue(testpki.LeafOptions{CommonName: "guest client", EmailAddresses: []string{"c@example.com"}, Usage: testpki.ClientAuth}),
		blocked: issue(testpki.LeafOptions{CommonName: "blocked", EmailAddresses: []string{"b@example.com"}, Usage: testpki.ClientAuth}),
		dir:     t.TempDir(),
	}
	for name, l := range map[string]*testpki.Leaf{"example": p.example, "localhost": p.local, "client": p.client, "blocked": p.blocked} {
		os.WriteFile(filepath.Join(p.dir, name+".key"), l.KeyPEM(), 0o600)
		os.WriteFile(filepath.Join(p.dir, name+".pem"), l.ChainPEM(), 0o600)
	}
	os.WriteFile(filepath.Join(p.dir, "ca.pem"), ca.CertPEM(), 0o600)
	return p
}

// backendIdentity is l's key and chain parsed by the backend named
// backend, to hand a host as one of its Config.Identities.
func backendIdentity(t *testing.T, backend string, l *testpki.Leaf) *backends.Identity {
	t.Helper()
	b, err := backends.ByName(backend)
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.ParseIdentity(l.KeyPEM(), [][]byte{l.ChainPEM()})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// compilationCache shares compiled guests between the runtimes of the tests.
var compilationCache = wazero.NewCompilationCache()

// compileGuest builds pkg and compiles it with compile (a runtime's
// CompileModule, or stoppable's). Tests call it before they start the
// clock of a guest's run: on a loaded machine building and compiling a
// guest takes seconds, which must not come out of the run's budget.
func compileGuest(t *testing.T, compile func(context.Context, []byte) (wazero.CompiledModule, error), pkg string) wazero.CompiledModule {
	t.Helper()
	compiled, err := compile(context.Background(), guestbuild.MustBuild(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return compiled
}

// stoppable is r's runtime.CompileModule, for compileGuest.
func stoppable(r wazero.Runtime) func(context.Context, []byte) (wazero.CompiledModule, error) {
	return func(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
		return runtime.CompileModule(ctx, r, wasm)
	}
}

// guest is a running or finished guest instance.
type guest struct {
	out  syncbuf.Buffer
	done chan error
	// stop ends the guest's context now, as its deadline would later.
	stop context.CancelFunc
}

// startGuest builds pkg and runs it with the wasi:tls host on backend.
func startGuest(t *testing.T, backend string, p *guestPKI, pkg string, env []string, args ...string) *guest {
	t.Helper()
	return startGuestWith(t, tlshost.Config{BackendName: backend}, p, pkg, env, args...)
}

// startGuestWith is startGuest with a host configuration; its trust
// anchors are the test CA.
func startGuestWith(t *testing.T, cfg tlshost.Config, p *guestPKI, pkg string, env []string, args ...string) *guest {
	t.Helper()
	return newGuestRuntime(t, cfg, p).start(t, pkg, env, args...)
}

// A guestRuntime is a runtime with one wasi:tls host, for guests that
// share it.
type guestRuntime struct {
	r  wazero.Runtime
	rt *runtime.Runtime
	p  *guestPKI
	// base, if not nil, is the context guests are instantiated under.
	base context.Context
}

// newGuestRuntime makes a runtime whose wasi:tls host has cfg, with the
// test CA as its trust anchors, running guests with the stop flag as the
// wasitls command does; it is closed at the end of the test, after its
// guests stopped.
func newGuestRuntime(t *testing.T, cfg tlshost.Config, p *guestPKI) *guestRuntime {
	t.Helper()
	policy := new(sockets.Policy)
	policy.AllowConnect("127.0.0.1:*", "localhost:*")
	policy.AllowListen("127.0.0.1:*")
	return newGuestRuntimePolicy(t, cfg, p, policy)
}

// newGuestRuntimePolicy is newGuestRuntime with the network policy of its
// guests.
func newGuestRuntimePolicy(t *testing.T, cfg tlshost.Config, p *guestPKI, policy *sockets.Policy) *guestRuntime {
	t.Helper()
	setup := context.Background()
	r := wazero.NewRuntimeWithConfig(setup, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
	t.Cleanup(func() { r.Close(context.Background()) })
	cfg.RootCAs, cfg.ClientCAs = p.ca.Pool(), p.ca.Pool()
	ext := tlshost.New(cfg)
	rt, err := runtime.New(setup, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{ext}, StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	return &guestRuntime{r: r, rt: rt, p: p}
}

// start builds pkg and runs it as a guest of the runtime.
func (gr *guestRuntime) start(t *testing.T, pkg string, env []string, args ...string) *guest {
	t.Helper()
	return gr.startWith(t, pkg, 30*time.Second, runtime.ModuleConfig{Env: env,
		Dirs: []runtime.Dir{{Host: gr.p.dir, Guest: "/certs", ReadOnly: true}}}, args...)
}

// startWith builds pkg and runs it as a guest of the runtime with mc (its
// arguments and output set here), for at most within.
func (gr *guestRuntime) startWith(t *testing.T, pkg string, within time.Duration, mc runtime.ModuleConfig, args ...string) *guest {
	t.Helper()
	wasm := guestbuild.MustBuild(t, pkg)
	// The guest's time starts after compiling it, which a loaded machine
	// can make slow for a large guest.
	compiled, err := runtime.CompileModule(context.Background(), gr.r, wasm)
	if err != nil {
		t.Fatal(err)
	}
	base := gr.base
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithTimeout(base, within)
	g := &guest{done: make(chan error, 1), stop: cancel}
	mc.Args = append([]string{filepath.Base(pkg)}, args...)
	mc.Stdout, mc.Stderr = &g.out, &g.out
	go func() {
		_, err := gr.rt.Instantiate(ctx, compiled, mc)
		g.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Error("guest did not stop")
		}
	})
	return g
}

// wait waits for the guest to exit and returns its output and error.
func (g *guest) wait(t *testing.T) (string, error) {
	t.Helper()
	select {
	case err := <-g.done:
		g.done <- err
		return g.out.String(), err
	case <-time.After(30 * time.Second):
		t.Fatalf("guest did not finish; output so far:\n%s", g.out.String())
		return "", nil
	}
}

// port waits for a server guest's "listening on" line.
func (g *guest) port(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out := g.out.String()
		if i := strings.Index(out, "listening on 127.0.0.1:"); i >= 0 {
			rest := out[i+len("listening on 127.0.0.1:"):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				return rest[:j]
			}
		}
		select {
		case err := <-g.done:
			t.Fatalf("server guest exited: %v\n%s", err, out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("server guest did not listen")
	return ""
}

func eachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, name := range backends.Names() {
		t.Run(name, func(t *testing.T) { f(t, name) })
	}
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// goHTTPS starts a net/http TLS server; errs collects its TLS errors.
func goHTTPS(t *testing.T, p *guestPKI, cfg func(*tls.Config)) (port string, errs *syncbuf.Buffer) {
	t.Helper()
	errs = new(syncbuf.Buffer)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		io.WriteString(w, "hello "+who+" over "+r.Proto+"\n")
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
	if cfg != nil {
		cfg(srv.TLS)
	}
	srv.Config.ErrorLog = log.New(errs, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port, errs
}

func TestGuestClientMinimal(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, _ := goHTTPS(t, p, nil)
		out, err := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-minimal", nil, "localhost", port, "/").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "HTTP/1.1 200 OK", "hello anonymous over HTTP/1.1")
	})
}

func TestGuestClientShowcaseMTLSH2(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, _ := goHTTPS(t, p, func(c *tls.Config) {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = p.ca.Pool()
		})
		out, err := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-showcase", nil,
			"localhost", port, "/certs/client.key", "/certs/client.pem").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "client certificate: requested by the server, responding", "alpn-id: h2",
			`client-identity: "guest client"`, "protocol-version: TLS 1.3 (0x0304)", "group: X25519MLKEM768 (0x11ec)",
			"h2: server's first frame has type 4")
	})
}

func TestGuestClientShowcaseCustomVerificationAborts(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, errs := goHTTPS(t, p, nil)
		out, err := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-showcase",
			[]string{"PIN_SHA256=" + strings.Repeat("00", 32)}, "localhost", port, "/certs/client.key", "/certs/client.pem").wait(t)
		if err == nil {
			t.Fatalf("pin mismatch did not fail the guest:\n%s", out)
		}
		mustContain(t, out, "aborting the handshake: server certificate pin mismatch")
		// The server saw an alert, not a silent close.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(errs.String(), "remote error: tls:") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		mustContain(t, errs.String(), "remote error: tls:")

		// The right pin passes.
		sum := sha256.Sum256(p.local.Chain[0])
		out, err = startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-showcase",
			[]string{"PIN_SHA256=" + hex.EncodeToString(sum[:])}, "localhost", port, "/certs/client.key", "/certs/client.pem").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "server certificate pin: ok", "client certificate: not requested")
	})
}

func TestGuestClientFailures(t *testing.T) {
	p := newGuestPKI(t)
	other, _ := testpki.NewCA()
	unknown, _ := other.Issue(testpki.LeafOptions{})
	expired, _ := p.ca.Issue(testpki.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	cases := []struct {
		name   string
		cert   *testpki.Leaf
		host   string
		reason string // what client-last-error must say
	}{
		{"wrong hostname", p.example, "localhost", "not localhost"},
		{"unknown CA", unknown, "localhost", "unknown authority"},
		{"expired", expired, "localhost", "expired"},
	}
	eachBackend(t, func(t *testing.T, backend string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				port, _ := goHTTPS(t, p, func(cfg *tls.Config) { cfg.Certificates = []tls.Certificate{c.cert.TLSCertificate()} })
				out, err := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-minimal", nil, c.host, port).wait(t)
				if err == nil {
					t.Fatalf("handshake succeeded:\n%s", out)
				}
				mustContain(t, out, "tls handshake with localhost failed: client handshake: ", c.reason)
			})
		}
	})
}

func TestGuestDraftClient(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, _ := goHTTPS(t, p, nil)
		out, err := startGuest(t, backend, p, "./testdata/draftclient", nil, "localhost", port).wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "hello anonymous over HTTP/1.1")

		// A failure carries the backend's reason through wasi:io/error.
		port2, _ := goHTTPS(t, p, func(cfg *tls.Config) { cfg.Certificates = []tls.Certificate{p.example.TLSCertificate()} })
		out, err = startGuest(t, backend, p, "./testdata/draftclient", nil, "localhost", port2).wait(t)
		if err == nil {
			t.Fatalf("handshake succeeded:\n%s", out)
		}
		mustContain(t, out, "handshake failed:", "localhost")
	})
}

func TestGuestMisuse(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, _ := goHTTPS(t, p, nil)
		run := func(mode string) (string, error) {
			return startGuest(t, backend, p, "./testdata/misuse", nil, mode, "localhost", port).wait(t)
		}
		out, err := run("connect-twice")
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, out, "second connect: wasi:tls: operation failed")
		out, err = run("order")
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, out, "receive-client-identity-request: <nil>", "verify-server-identity after it: wasi:tls: operation failed",
			"configure-alpn-ids after start: wasi:tls: operation failed")
		// What the host would keep for the handshake's life is bounded.
		out, err = run("oversized")
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, out,
			"configure-alpn-ids of 76,800 bytes: wasi:tls: operation failed (configure-alpn-ids: tlshost: the ALPN IDs take 76800 bytes, more than the 49152 a client's ALPN IDs may take (what a ClientHello carries beside the rest of the hello; each ID counts its length byte))",
			"connect with a name of 1 MiB: wasi:tls: operation failed (connect: tlshost: connect: a server name of 1048576 bytes, more than a DNS name's 254)")
		// The most ALPN IDs a client may offer complete a handshake; one
		// byte more is refused when configured (before, up to 65,535
		// bytes were taken and failed the handshake encoding the
		// ClientHello, and circl-pq once panicked doing so).
		out, err = run("alpn-bound")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out,
			"configure-alpn-ids of 49,153 bytes: wasi:tls: operation failed (configure-alpn-ids: tlshost: the ALPN IDs take 49153 bytes, more than the 49152 a client's ALPN IDs may take",
			`handshake with 49,152 bytes of ALPN IDs: <nil>, ALPN "h2"`, "done")
		for _, mode := range []string{"configure-after-finish", "finish-twice", "use-after-drop"} {
			out, err := run(mode)
			if err == nil || strings.Contains(out, "done") {
				t.Errorf("%s: guest was not trapped (err %v):\n%s", mode, err, out)
			}
		}
	})
}

func TestGuestServerMinimal(t *testing.T) {
	p := newGuestPKI(t)
	curl := testpeer.Curl.Path(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/server-minimal", nil,
			"0", "/certs/localhost.key", "/certs/localhost.pem", "2")
		port := g.port(t)

		// A Go client.
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.ca.Pool()}}}
		resp, err := c.Get("https://localhost:" + port + "/go")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "hello from a wasi:tls server") {
			t.Fatalf("body %q", body)
		}
		// curl.
		cmd := exec.Command(curl, "-sS", "--http1.1", "--cacert", filepath.Join(p.dir, "ca.pem"), "https://localhost:"+port+"/curl")
		got, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(got), "hello from a wasi:tls server") {
			t.Fatalf("curl: %v\n%s", err, got)
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, `request: "GET /go HTTP/1.1"`, `request: "GET /curl HTTP/1.1"`)
	})
}

func TestGuestServerShowcase(t *testing.T) {
	p := newGuestPKI(t)
	openssl := testpeer.OpenSSL.Path(t)
	curl := testpeer.Curl.Path(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/server-showcase", nil,
			"0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", "3")
		port := g.port(t)

		// openssl s_client as example.com with ALPN h2 and a client certificate.
		cmd := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+port, "-servername", "example.com",
			"-alpn", "h2", "-cert", filepath.Join(p.dir, "client.pem"), "-key", filepath.Join(p.dir, "client.key"),
			"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error", "-ign_eof")
		cmd.Stdin = strings.NewReader("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl: %v\n%s", err, got)
		}
		mustContain(t, string(got), "ALPN protocol: h2", "CN = example.com", "Verify return code: 0 (ok)")

		// A client certificate the guest's custom logic refuses: aborted.
		cmd = exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+port, "-servername", "localhost",
			"-cert", filepath.Join(p.dir, "blocked.pem"), "-key", filepath.Join(p.dir, "blocked.key"),
			"-CAfile", filepath.Join(p.dir, "ca.pem"), "-ign_eof")
		cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\n\r\n")
		got, _ = cmd.CombinedOutput()
		mustContain(t, string(got), "alert")

		// curl without a certificate asks for /secure: post-handshake
		// authentication, reported per backend.
		cmd = exec.Command(curl, "-sS", "--http1.1", "--cacert", filepath.Join(p.dir, "ca.pem"), "https://localhost:"+port+"/secure")
		got, err = cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, got)
		}
		mustContain(t, string(got), "server-name: localhost", "client-identity: none", "post-handshake authentication:")

		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "client hello: server-name example.com, alpn-ids [h2]",
			`client certificate: subject "guest client"`, "alpn-id: h2",
			`client "blocked" is blocked: handshake aborted`, "client certificate: none")
		if backend == "stdtls" {
			mustContain(t, out, "post-handshake authentication: failed")
		}
	})
}

// TestGuestNoLeaks runs guests that trap, abort and finish, and checks that
// no goroutine (handshake, stream reader, post-handshake request) outlives
// them.
func TestGuestNoLeaks(t *testing.T) {
	p := newGuestPKI(t)
	// Build outside the measurement.
	guestbuild.MustBuild(t, "./testdata/misuse")
	guestbuild.MustBuild(t, "github.com/wasitls/wasitls/examples/client-showcase")
	before := goroutines()
	t.Run("guests", func(t *testing.T) {
		eachBackend(t, func(t *testing.T, backend string) {
			port, _ := goHTTPS(t, p, nil)
			startGuest(t, backend, p, "./testdata/misuse", nil, "finish-twice", "localhost", port).wait(t)
			startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-showcase",
				[]string{"PIN_SHA256=00"}, "localhost", port, "/certs/client.key", "/certs/client.pem").wait(t)
			startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/client-showcase", nil,
				"localhost", port, "/certs/client.key", "/certs/client.pem").wait(t)
		})
	})
	deadline := time.Now().Add(10 * time.Second)
	for goroutines() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d > %d\n%s", goroutines(), before, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func goroutines() int { return goruntime.NumGoroutine() }

// TestGuestCustomBackend runs a guest over the user backend of
// examples/custom-backend: allowed names connect, others are refused
// before anything is sent, and every handshake is logged.
func TestGuestCustomBackend(t *testing.T) {
	p := newGuestPKI(t)
	port, _ := goHTTPS(t, p, nil)
	var logs syncbuf.Buffer
	b := custombackend.New(nil, []string{"localhost"}, slog.New(slog.NewTextHandler(&logs, nil)))
	out, err := startGuestWith(t, tlshost.Config{Backend: b}, p, "github.com/wasitls/wasitls/examples/client-minimal", nil, "localhost", port).wait(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustContain(t, out, "hello anonymous")
	mustContain(t, logs.String(), "tls handshake", "server_name=localhost")

	deny := custombackend.New(nil, []string{"example.com"}, slog.New(slog.NewTextHandler(&logs, nil)))
	out, err = startGuestWith(t, tlshost.Config{Backend: deny}, p, "github.com/wasitls/wasitls/examples/client-minimal", nil, "localhost", port).wait(t)
	if err == nil {
		t.Fatalf("a name off the allow-list connected:\n%s", out)
	}
	mustContain(t, out, "tls handshake with localhost failed")
}
