package tlshost_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// tlsClientComponent is testdata/components/tlsclient.c as a command
// component: clang and wasi-libc, its world embedded, `jco new
// --wasi-command`.
func tlsClientComponent(t *testing.T) *component.Component {
	b := cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/components/tlsclient.c"},
		WIT:     "testdata/components/tlsclient.wit", World: "client",
		WITDeps: cguest.WITDeps("io", "clocks", "sockets", "tls-draft"),
		Adapter: cguest.Command,
	})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestComponentDraftClientOpenSSL runs the minimal TLS client in C, a
// component, through the upstream wasi:tls@0.2.0-draft against `openssl
// s_server -www`, on every backend.
func TestComponentDraftClientOpenSSL(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	c := tlsClientComponent(t)
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		addr := startSServer(t, openssl, "-www",
			"-cert", filepath.Join(p.dir, "localhost.pem"), "-key", filepath.Join(p.dir, "localhost.key"))
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
		defer r.Close(context.Background())
		policy := new(sockets.Policy)
		policy.AllowConnect(addr)
		rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, StopFlag: true, Extensions: []runtime.Extension{
			tlshost.New(tlshost.Config{BackendName: backend, RootCAs: p.ca.Pool()}),
		}})
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		err = rt.RunComponent(ctx, c, runtime.ModuleConfig{Args: []string{"tlsclient", host, port, "localhost"}, Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
		}
		mustContain(t, out.String(), "HTTP/1.0 200 ok", "TLSv1.3")
	})
}

// startSServer runs `openssl s_server` for one connection and returns its
// address.
func startSServer(t *testing.T, openssl string, args ...string) string {
	t.Helper()
	args = append([]string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1"}, args...)
	cmd := exec.Command(openssl, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewReader(stdout)
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("openssl s_server did not start: %v", err)
		}
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ACCEPT "); ok {
			go io.Copy(io.Discard, lines)
			return addr
		}
	}
}
