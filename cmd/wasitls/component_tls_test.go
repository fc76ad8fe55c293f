package main

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunComponentTLSServer runs the C TLS server component on the full
// wasi:tls proposal (runtime/tlshost/testdata/components/tlsserver.c) with
// one command on each backend: its identity held by the host through
// --identity, listening allowed by --allow-listen. A Go client negotiates
// ALPN and reads the answer.
func TestRunComponentTLSServer(t *testing.T) {
	b := cguest.Build(t, cguest.TLSServer())
	dir := t.TempDir()
	path := filepath.Join(dir, "tlsserver.wasm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	certFile, keyFile := filepath.Join(dir, "web.pem"), filepath.Join(dir, "web.key")
	os.WriteFile(certFile, leaf.ChainPEM(), 0o644)
	os.WriteFile(keyFile, leaf.KeyPEM(), 0o600)

	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncbuf.Buffer
			code := make(chan int, 1)
			go func() {
				code <- dispatch(ctx, []string{"run", "--backend", backend, "--allow-listen", "127.0.0.1:*",
					"--identity", "web=" + certFile + "," + keyFile, path, "0", "1", "host:web"}, &stdout, &stderr)
			}()
			addr := waitListening(t, &stdout, &stderr, code)
			defer hangGuard(cancel)()
			c, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /cli HTTP/1.1\r\nHost: localhost\r\n\r\n")
			resp, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v (got %q)", err, resp)
			}
			for _, want := range []string{"HTTP/1.1 200 OK\r\n", "request: GET /cli HTTP/1.1\n", "alpn-id: http/1.1\n", "protocol-version: 0x0304\n"} {
				if !strings.Contains(string(resp), want) {
					t.Errorf("response lacks %q:\n%s", want, resp)
				}
			}
			if st := c.ConnectionState(); st.NegotiatedProtocol != "http/1.1" || st.Version != tls.VersionTLS13 {
				t.Errorf("negotiated %q, version %#x", st.NegotiatedProtocol, st.Version)
			}
			select {
			case c := <-code:
				if c != 0 {
					t.Fatalf("exit code %d: %s%s", c, stdout.String(), stderr.String())
				}
			case <-ctx.Done():
				t.Fatal("the server did not exit after its one connection")
			}
			if !strings.Contains(stdout.String(), "response: sent, closed\n") {
				t.Errorf("stdout:\n%s", stdout.String())
			}
		})
	}
}
