package tlshost_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestIdentityBytesLimit: a guest parsing private identities of a 100 KiB
// certificate and keeping every one is refused the parse that would take
// it past Config.IdentityBytes, with an error naming the limit; once it
// closes them (and the host's garbage collector finds them unused) it
// parses again. Before the limit, a guest could make the host hold its
// handle limit's worth of chains (262,144 of them, each up to its memory).
// Two guests of one host have a limit each, and each logs one record
// naming the cap and the guest (capreport).
func TestIdentityBytesLimit(t *testing.T) {
	const limit = 1 << 20
	setup := context.Background()
	r := wazero.NewRuntimeWithConfig(setup, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(context.Background())
	ext := tlshost.New(tlshost.Config{BackendName: "stdtls", IdentityBytes: limit})
	log, rec := capreporttest.New()
	rt, err := runtime.New(setup, r, runtime.Config{Logger: log, Extensions: []runtime.Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	compiled := compileGuest(t, r.CompileModule, "./testdata/idhog")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outs := make(chan string, 2)
	for range 2 {
		go func() {
			out, err := instantiateIdhog(ctx, rt, compiled, "100", "50")
			outs <- fmt.Sprintf("%s(err %v)", out, err)
		}()
	}
	for range 2 {
		out := <-outs
		// Nine fit: each counts its 100 KiB and the 2.7 KiB the parsed
		// key and leaf hold.
		if !strings.Contains(out, "parse 10: ") ||
			!strings.Contains(out, fmt.Sprintf("more than the %d allowed (tlshost.Config.IdentityBytes, wasitls run --max-identity-bytes)", limit)) ||
			!strings.Contains(out, "after close: ok\n(err <nil>)") {
			t.Errorf("guest output:\n%s\nwant parse 10 refused naming the limit, then room after closing", out)
		}
	}
	if err := rec.Check("--max-identity-bytes", limit, 2); err != nil {
		t.Error(err)
	}
}

// TestIdentityBytesTinyElements: a chain's elements count what each costs
// the host, not only their bytes. A guest parsing identities whose chain
// ends with 2,048 two-byte elements (an empty DER SEQUENCE each) is
// refused within a dozen parses under a 1 MiB limit; before, each counted
// about 5 KiB while the host held 35 bytes per element beside it, and all
// 100 parses fit, holding 7 MiB under the 1 MiB limit.
func TestIdentityBytesTinyElements(t *testing.T) {
	const limit = 1 << 20
	out, err := runIdhog(t, "stdtls", limit, "1", "100", "2048")
	var refused int
	if _, scanErr := fmt.Sscanf(out, "parse %d: ", &refused); scanErr != nil || refused > 12 ||
		!strings.Contains(out, fmt.Sprintf("more than the %d allowed", limit)) {
		t.Errorf("guest output:\n%s(err %v)\nwant a parse within the first 12 refused naming the limit", out, err)
	}
}

// runIdhog runs the idhog guest with args on a host of backend whose
// guests may keep limit bytes of identities, and returns what the guest
// printed and the error its run ended with.
func runIdhog(t *testing.T, backend string, limit int, args ...string) (string, error) {
	t.Helper()
	setup := context.Background()
	r := wazero.NewRuntimeWithConfig(setup, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(context.Background())
	ext := tlshost.New(tlshost.Config{BackendName: backend, IdentityBytes: limit})
	rt, err := runtime.New(setup, r, runtime.Config{Extensions: []runtime.Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	compiled := compileGuest(t, r.CompileModule, "./testdata/idhog")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return instantiateIdhog(ctx, rt, compiled, args...)
}

// instantiateIdhog runs the idhog guest compiled with args on rt and
// returns what it printed and the error its run ended with. Each time the
// guest, having closed its identities, asks for a collection ("collect"),
// the host runs its garbage collector and waits until the cleanups that
// collection queued (those giving back the bytes of the identities it
// found unused) have run (collect), then tells the guest to parse again.
// The guest so waits on collections, not on a clock: before, it parsed
// again every 50 ms for 10 s while the host collected every 50 ms, and on
// a heavily loaded host the 10 s could pass with nothing given back.
func instantiateIdhog(ctx context.Context, rt *runtime.Runtime, compiled wazero.CompiledModule, args ...string) (string, error) {
	out := &idhogOutput{asks: make(chan struct{}, 1)}
	stdin, answer := io.Pipe()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-out.asks:
				collect(ctx)
				if _, err := answer.Write([]byte("collected\n")); err != nil {
					return
				}
			}
		}
	})
	_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: append([]string{"idhog"}, args...), Stdin: stdin, Stdout: out, Stderr: out})
	answer.Close() // ends a write the guest did not read
	close(done)
	wg.Wait()
	return out.String(), err
}

// collect runs the host's garbage collector and waits until the cleanups
// queued so far have run, or ctx ends.
func collect(ctx context.Context) {
	goruntime.GC()
	s := []metrics.Sample{{Name: "/gc/cleanups/queued:cleanups"}, {Name: "/gc/cleanups/executed:cleanups"}}
	metrics.Read(s)
	for queued := s[0].Value.Uint64(); s[1].Value.Uint64() < queued && ctx.Err() == nil; metrics.Read(s) {
		time.Sleep(time.Millisecond)
	}
}

// idhogOutput is what an idhog guest prints; each "collect" line it
// completes is sent on asks.
type idhogOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf looked at for "collect" lines
	asks    chan struct{}
}

func (o *idhogOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for {
		line, _, ok := bytes.Cut(o.buf.Bytes()[o.scanned:], []byte("\n"))
		if !ok {
			return len(p), nil
		}
		o.scanned += len(line) + 1
		if string(line) == "collect" {
			o.asks <- struct{}{} // the guest waits for the answer: one at a time
		}
	}
}

func (o *idhogOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TestIdentityBytesParsedLeaf: what the parse makes of an identity counts,
// not only the bytes the guest passed. A guest parsing identities whose
// leaf names 4,000 one-letter URIs (16 KiB of DER, which crypto/x509
// turns into some 620 KiB of url.URLs) is refused its second parse under
// a 1 MiB limit, with either backend; before, each counted its 16 KiB
// and some 60 parses fit, holding 38 MiB under the 1 MiB limit.
func TestIdentityBytesParsedLeaf(t *testing.T) {
	const limit = 1 << 20
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			out, err := runIdhog(t, backend, limit, "0", "100", "0", "4000")
			var refused int
			if _, scanErr := fmt.Sscanf(out, "parse %d: ", &refused); scanErr != nil || refused > 2 ||
				!strings.Contains(out, fmt.Sprintf("more than the %d allowed", limit)) ||
				!strings.Contains(out, "after close: ok") {
				t.Errorf("guest output:\n%s(err %v)\nwant the second parse refused naming the limit, and a parse after closing", out, err)
			}
		})
	}
}
