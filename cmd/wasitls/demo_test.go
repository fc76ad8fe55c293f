package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/cachefiles"
)

// TestDemo runs the demo over every registered backend and checks that
// both sides report what they negotiated.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three guests")
	}
	var out, errOut bytes.Buffer
	cache := t.TempDir()
	if code := dispatch(context.Background(), []string{"demo", "--compilation-cache", cache}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, b := range backends.Names() {
		section, _, _ := strings.Cut(got[strings.Index(got, "=== backend "+b):], "\n=== backend ")
		for _, want := range []string{
			"[server] client hello: server-name example.com, alpn-ids [h2 http/1.1]",
			`[server] client certificate: subject "demo client"`,
			"[server] alpn-id: h2",
			`[client] client-identity: "demo client"`,
			`[client] server-identity: "example.com"`,
			"[client] protocol-version: TLS 1.3 (0x0304)",
			"[client] group: X25519MLKEM768 (0x11ec)",
			"[server] group: X25519MLKEM768 (0x11ec)",
			"[client] cipher-suite: TLS_",
			"[client] h2: server's first frame has type 4",
			`[server] request: "GET /secure HTTP/1.1"`,
			"[server] post-handshake authentication:",
			"[client] HTTP/1.1 200 OK",
		} {
			if !strings.Contains(section, want) {
				t.Errorf("backend %s: output lacks %q", b, want)
			}
		}
		// An error names its backend once (the post-handshake one over
		// stdtls read "tlshost: stdtls backend: stdtls: ..."); a log
		// line's backend attribute aside.
		for _, line := range strings.Split(section, "\n") {
			if n := strings.Count(strings.Replace(line, " backend="+b+" ", "", 1), b); n > 1 {
				t.Errorf("backend %s: a line names it %d times: %s", b, n, line)
			}
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
	// --compilation-cache: the three guests' code is kept, compiled once
	// for both backends.
	if n := len(cachefiles.Entries(t, cache)); n != len(demoGuests) {
		t.Errorf("--compilation-cache holds %d entries, want %d (one a guest)", n, len(demoGuests))
	}
}

func TestRunBackendFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), []string{"run", "--backend", "no-such-backend", "guest.wasm"}, &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), `--backend: backends: no backend named "no-such-backend"`) {
		t.Fatalf("code %d, stderr %q", code, errOut.String())
	}
}

// TestDemoCompilesOnce runs the demo over every backend, without
// --compilation-cache, as the README's first command does: each guest is
// compiled once in the process, not once a backend (before, a runtime of
// its own for each backend compiled the three guests again, seconds of
// CPU each).
func TestDemoCompilesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three guests")
	}
	if len(backends.Names()) < 2 {
		t.Fatalf("backends %v: the test needs two", backends.Names())
	}
	saved := compilationCache
	compilationCache = nil // the tests' in-memory cache would hide the command's own
	defer func() { compilationCache = saved }()
	ctx := &compileCounter{Context: context.Background()}
	var out, errOut bytes.Buffer
	if code := dispatch(ctx, []string{"demo"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if n := ctx.compiled.Load(); n != int64(len(demoGuests)) {
		t.Errorf("the demo compiled %d modules over %d backends, want %d (each guest once)", n, len(backends.Names()), len(demoGuests))
	}
}

// compileCounter is a context counting the modules wazero compiles under
// it: its compiler asks the context for the number of compilation
// workers (experimental.GetCompilationWorkers) once for each module it
// compiles to native code, and not for one it finds compiled in a
// compilation cache. A wazero that asked otherwise would count none, and
// fail the test rather than pass it.
type compileCounter struct {
	context.Context
	compiled atomic.Int64
}

func (c *compileCounter) Value(key any) any {
	if fmt.Sprintf("%T", key) == "expctxkeys.CompilationWorkers" {
		c.compiled.Add(1)
	}
	return c.Context.Value(key)
}
