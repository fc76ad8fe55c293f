package tlshost_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// silentServer accepts TCP connections and never answers; it closes them
// when the test ends.
func silentServer(t *testing.T) int { return testnet.Serve(t, nil).Port }

// A guest holding Config.PendingHandshakes handshakes to a silent server
// gets an error result naming the limit for the next one, readable through
// client-last-error; dropping one makes room again. Two guests of one
// runtime each get the whole limit, and the host's goroutines come back
// once they exit. Each guest logs one record naming the cap and the guest
// (capreport).
//
// MODE finish (handshakes started) runs on circl-pq only: on stdtls,
// dropping a started handshake to a silent peer blocks until the peer
// disconnects (issue 11, item 1).
func TestPendingHandshakeLimit(t *testing.T) {
	const limit = 8
	port := silentServer(t)
	for _, tc := range []struct{ backend, mode string }{
		{"stdtls", "connect"}, {"circl-pq", "connect"}, {"circl-pq", "finish"},
	} {
		t.Run(tc.backend+"/"+tc.mode, func(t *testing.T) {
			goroutines := goruntime.NumGoroutine()
			setup := context.Background()
			r := wazero.NewRuntimeWithConfig(setup, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
			defer r.Close(context.Background())
			policy := new(sockets.Policy)
			policy.AllowConnect("127.0.0.1:*")
			ext := tlshost.New(tlshost.Config{BackendName: tc.backend, PendingHandshakes: limit})
			log, rec := capreporttest.New()
			rt, err := runtime.New(setup, r, runtime.Config{Network: policy, Logger: log, Extensions: []runtime.Extension{ext}})
			if err != nil {
				t.Fatal(err)
			}
			compiled := compileGuest(t, r.CompileModule, "./testdata/pending")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			outs := make(chan string, 2)
			for range 2 {
				go func() {
					var out bytes.Buffer
					_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
						Args:   []string{"pending", tc.mode, "127.0.0.1", fmt.Sprint(port), "20"},
						Stdout: &out, Stderr: &out,
					})
					outs <- fmt.Sprintf("%s(err %v)", out.String(), err)
				}()
			}
			for range 2 {
				out := <-outs
				if !strings.Contains(out, fmt.Sprintf("connect %d: ", limit+1)) ||
					!strings.Contains(out, fmt.Sprintf("the guest has %d handshakes pending, the most allowed (tlshost.Config.PendingHandshakes, wasitls run --max-pending-handshakes)", limit)) ||
					!strings.Contains(out, "after drop: ok\n(err <nil>)") {
					t.Errorf("guest output:\n%s\nwant connect %d refused naming the limit, then room after a drop", out, limit+1)
				}
			}
			if err := rec.Check("--max-pending-handshakes", limit, 2); err != nil {
				t.Error(err)
			}
			r.Close(context.Background())
			waitGoroutines(t, goroutines)
		})
	}
}

// waitGoroutines waits, up to a deadline, for the goroutine count to come
// back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines, want at most %d:\n%s", goruntime.NumGoroutine(), n, buf[:goruntime.Stack(buf, true)])
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A guest server holding Config.PendingHandshakes server handshakes from
// silent clients gets an error result naming the limit for the next
// accept; dropping one makes room again.
func TestPendingHandshakeLimitServer(t *testing.T) {
	const limit = 8
	p := newGuestPKI(t)
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			g := startGuestWith(t, tlshost.Config{BackendName: backend, PendingHandshakes: limit}, p, "./testdata/pending", nil, "serve", "20")
			addr := net.JoinHostPort("127.0.0.1", g.port(t))
			for range limit + 2 { // the last one after the drop
				c, err := net.Dial("tcp4", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
			}
			out, err := g.wait(t)
			if err != nil || !strings.Contains(out, fmt.Sprintf("accept %d: ", limit+1)) ||
				!strings.Contains(out, fmt.Sprintf("the guest has %d handshakes pending, the most allowed", limit)) ||
				!strings.Contains(out, "after drop: ok") {
				t.Errorf("guest: %v, output:\n%s\nwant accept %d refused naming the limit, then room after a drop", err, out, limit+1)
			}
		})
	}
}
