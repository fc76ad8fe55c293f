package tlshost_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// tlsServerComponent is testdata/components/tlsserver.c as a command
// component: clang and wasi-libc, its world embedded, `jco new
// --wasi-command`.
func tlsServerComponent(t *testing.T) *component.Component {
	c, err := component.Parse(cguest.Build(t, cguest.TLSServer()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startComponentServer runs tlsserver.c with the wasi:tls host configured
// by cfg (its identity "web" is localhost's), p.dir preopened read-only
// at /certs, and listening allowed on 127.0.0.1.
func startComponentServer(t *testing.T, cfg tlshost.Config, p *guestPKI, args ...string) *guest {
	t.Helper()
	c := tlsServerComponent(t)
	id, err := tlshost.LoadIdentity(cfg, filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identities = map[string]*backends.Identity{"web": id}
	policy := new(sockets.Policy)
	policy.AllowListen("127.0.0.1:*")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{tlshost.New(cfg)}, StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	g := &guest{done: make(chan error, 1)}
	go func() {
		g.done <- rt.RunComponent(ctx, c, runtime.ModuleConfig{
			Args:   append([]string{"tlsserver"}, args...),
			Stdout: &g.out, Stderr: &g.out,
			Dirs: []runtime.Dir{{Host: p.dir, Guest: "/certs", ReadOnly: true}},
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Error("server component did not stop")
		}
		r.Close(context.Background())
	})
	return g
}

// tls13Suites maps the names openssl and curl print to code points.
var tls13Suites = map[string]string{
	"TLS_AES_128_GCM_SHA256":       "0x1301",
	"TLS_AES_256_GCM_SHA384":       "0x1302",
	"TLS_CHACHA20_POLY1305_SHA256": "0x1303",
}

// cipherOf finds the TLS 1.3 suite named after prefix in a peer's output
// and returns its code point.
func cipherOf(t *testing.T, out, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `(TLS_\w+)`).FindStringSubmatch(out)
	if m == nil || tls13Suites[m[1]] == "" {
		t.Fatalf("no TLS 1.3 cipher suite after %q in:\n%s", prefix, out)
	}
	return tls13Suites[m[1]]
}

// TestComponentServerPeers runs the C TLS server component, the full
// proposal's server handshake step by step, against curl and openssl
// s_client on every backend: with an identity the host holds by name and
// with a key the component reads from a preopen. Each peer's view of the
// protocol, cipher suite, group and ALPN is checked against what the
// component read from its connection and sent back.
func TestComponentServerPeers(t *testing.T) {
	curl := testpeer.Curl.Path(t)
	openssl := testpeer.OpenSSL.Path(t)
	p := newGuestPKI(t)
	ca := filepath.Join(p.dir, "ca.pem")
	curlGet := func(t *testing.T, port, path string) (body, verbose string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, curl, "-sS", "-v", "--http1.1", "--cacert", ca,
			"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, stderr.String())
		}
		return string(out), stderr.String()
	}
	sClient := func(t *testing.T, port, path string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args = append([]string{"s_client", "-connect", "127.0.0.1:" + port, "-servername", "localhost",
			"-alpn", "h2,http/1.1", "-CAfile", ca, "-verify_return_error", "-ign_eof"}, args...)
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Stdin = strings.NewReader("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl s_client: %v\n%s", err, out)
		}
		return string(out)
	}

	eachBackend(t, func(t *testing.T, backend string) {
		before, fds := goroutines(), openFDs(t)
		t.Run("host identity", func(t *testing.T) {
			g := startComponentServer(t, tlshost.Config{BackendName: backend}, p, "0", "3", "host:web")
			port := g.port(t)

			body, verbose := curlGet(t, port, "/curl")
			mustContain(t, body, "hello from a C component over wasi:tls\n", "request: GET /curl HTTP/1.1\n",
				"protocol-version: 0x0304\n", "alpn-id: http/1.1\n", "server-name: localhost\n",
				// curl (OpenSSL 3.0) prefers X25519.
				"group: 0x001d\n", "cipher-suite: "+cipherOf(t, verbose, "SSL connection using TLSv1.3 / ")+"\n")
			mustContain(t, verbose, "ALPN: server accepted http/1.1", "HTTP/1.1 200 OK")

			out := sClient(t, port, "/openssl")
			mustContain(t, out, "request: GET /openssl HTTP/1.1\n", "ALPN protocol: http/1.1",
				"Server Temp Key: X25519, 253 bits", "group: 0x001d\n", "Verify return code: 0 (ok)",
				"cipher-suite: "+cipherOf(t, out, "New, TLSv1.3, Cipher is ")+"\n")

			// The group the client allows decides; both sides see it.
			out = sClient(t, port, "/p256", "-groups", "P-256")
			mustContain(t, out, "request: GET /p256 HTTP/1.1\n", "Server Temp Key: ECDH, prime256v1, 256 bits",
				"group: 0x0017\n", "ALPN protocol: http/1.1")

			log := g.waitExit(t, 30*time.Second)
			mustContain(t, log, "listening on 127.0.0.1:",
				"client hello: server-name localhost, alpn-ids [http/1.1], groups [0x001d ",
				"client hello: server-name localhost, alpn-ids [h2 http/1.1], groups [0x001d ",
				"client hello: server-name localhost, alpn-ids [h2 http/1.1], groups [0x0017]",
				"request: GET /curl HTTP/1.1\n", "request: GET /openssl HTTP/1.1\n", "request: GET /p256 HTTP/1.1\n")
			if n := strings.Count(log, "response: sent, closed\n"); n != 3 {
				t.Errorf("%d responses closed with close_notify, want 3:\n%s", n, log)
			}
		})
		t.Run("key from a preopen", func(t *testing.T) {
			g := startComponentServer(t, tlshost.Config{BackendName: backend}, p, "0", "1", "/certs/localhost.key,/certs/localhost.pem")
			body, _ := curlGet(t, g.port(t), "/file")
			mustContain(t, body, "request: GET /file HTTP/1.1\n", "protocol-version: 0x0304\n", "alpn-id: http/1.1\n")
			mustContain(t, g.waitExit(t, 30*time.Second), "response: sent, closed\n")
		})
		waitSettled(t, before, fds)
	})
}

// TestComponentServerSilentClients: a client that never sends a
// ClientHello is ended by the host's handshake timeout, one that
// handshakes and never sends a request by the component's own timer
// (wasi:io/poll over the stream and a monotonic-clock pollable), each no
// sooner than its timeout; the component serves the next client, and
// nothing stays behind. The normal clients' handshakes must beat the
// handshake timeout: on a loaded machine the test tries longer ones
// (timeSensitive).
func TestComponentServerSilentClients(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		before, fds := goroutines(), openFDs(t)
		timeSensitive(t, timeoutLadder, func(t *testing.T, timeout time.Duration) error {
			return componentServerSilentClients(t, p, backend, timeout)
		})
		waitSettled(t, before, fds)
	})
}

// componentServerSilentClients is TestComponentServerSilentClients with
// timeout as both the host's handshake timeout and the component's
// request timeout.
func componentServerSilentClients(t *testing.T, p *guestPKI, backend string, timeout time.Duration) error {
	g := startComponentServer(t, tlshost.Config{BackendName: backend, HandshakeTimeout: timeout},
		p, "0", "3", "host:web", strconv.FormatInt(timeout.Milliseconds(), 10))
	addr := "127.0.0.1:" + g.port(t)
	// Each wait below is for one timeout, with room for a loaded machine.
	bound := timeout + 10*time.Second

	start := time.Now()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silentEnd, err := endedWithin(endsAt(silent), bound)
	if err != nil {
		return fmt.Errorf("silent client: %v; server output:\n%s", err, g.out.String())
	}
	if took := silentEnd.Sub(start); took < timeout {
		t.Fatalf("the silent client was let go after %v, before the handshake timeout of %v", took, timeout)
	}
	if _, err := g.outputWithin(bound, "handshake failed: .*did not complete within "+timeout.String()); err != nil {
		return err
	}

	d := net.Dialer{Timeout: bound}
	var verified time.Time
	quiet, err := tls.DialWithDialer(&d, "tcp", addr, verifiedAt(&tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"}, &verified))
	if err != nil {
		return fmt.Errorf("quiet client: %v; server output:\n%s", err, g.out.String())
	}
	defer quiet.Close()
	quiet.SetDeadline(time.Now().Add(bound))
	quietEnded := endsAt(quiet)
	if _, err := g.outputWithin(bound, "request: timed out"); err != nil {
		return err
	}
	// A handshake that missed the timeout (on a loaded machine) ends the
	// connection too, and then the bound below proves nothing.
	if n := strings.Count(g.out.String(), "handshake failed"); n != 1 {
		return fmt.Errorf("%d handshakes failed, want the silent client's alone:\n%s", n, g.out.String())
	}
	quietEnd, err := endedWithin(quietEnded, bound)
	if err != nil {
		return fmt.Errorf("quiet client: %v", err)
	}
	if took := quietEnd.Sub(verified); took < timeout {
		t.Fatalf("the quiet client was let go %v after it verified the server, before the request timeout of %v", took, timeout)
	}

	c, err := tls.DialWithDialer(&d, "tcp", addr, &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		return fmt.Errorf("client after them: %v; server output:\n%s", err, g.out.String())
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(bound))
	c.Write([]byte("GET /after HTTP/1.1\r\n\r\n"))
	resp, err := io.ReadAll(c)
	if !strings.Contains(string(resp), "HTTP/1.1 200 OK") {
		return fmt.Errorf("client after them: %q, %v; server output:\n%s", resp, err, g.out.String())
	}
	mustContain(t, string(resp), "HTTP/1.1 200 OK", "request: GET /after HTTP/1.1\n", "alpn-id: http/1.1\n")
	_, err = g.exitWithin(30 * time.Second)
	return err
}

// waitSettled waits for the goroutines and open files to come back to
// what they were before a test's servers ran.
func waitSettled(t *testing.T, goroutinesBefore, fdsBefore int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for goroutines() > goroutinesBefore || openFDs(t) > fdsBefore {
		if time.Now().After(deadline) {
			t.Fatalf("leaked: %d goroutines (before %d), %d open files (before %d)",
				goroutines(), goroutinesBefore, openFDs(t), fdsBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nodePQClient is Node 24 (OpenSSL 3.5) offering X25519MLKEM768 only and
// ALPN http/1.1; it prints what it negotiated and the answer's body.
const nodePQClient = `
const tls = require('tls');
const s = tls.connect({
  host: '127.0.0.1', port: +process.env.PORT, servername: 'localhost',
  ca: process.env.CA, ecdhCurve: 'X25519MLKEM768', ALPNProtocols: ['http/1.1'],
}, () => {
  console.log('node: ' + s.getProtocol() + ' ' + s.alpnProtocol + ' ' + s.getEphemeralKeyInfo().name);
  s.write('GET /node HTTP/1.1\r\nHost: localhost\r\n\r\n');
});
let body = '';
s.on('data', (d) => { body += d; });
s.on('close', () => console.log(body));
s.on('error', (e) => { console.error(e.message); process.exit(3); });
`

// TestComponentServerNodeX25519MLKEM768: the C server component
// negotiates the hybrid post-quantum group with Node 24 on both backends,
// and reads it from its connection (server-negotiated-group).
func TestComponentServerNodeX25519MLKEM768(t *testing.T) {
	node := tlshost.NodePeer(t)
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startComponentServer(t, tlshost.Config{BackendName: backend}, p, "0", "1", "host:web")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "-e", nodePQClient)
		cmd.Env = append(cmd.Environ(), "PORT="+g.port(t), "CA="+string(p.ca.CertPEM()))
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, got)
		}
		mustContain(t, string(got), "node: TLSv1.3 http/1.1 X25519MLKEM768\n", "request: GET /node HTTP/1.1\n",
			"group: 0x11ec\n", "alpn-id: http/1.1\n")
		mustContain(t, g.waitExit(t, 30*time.Second), "groups [0x11ec]", "response: sent, closed\n")
	})
}
