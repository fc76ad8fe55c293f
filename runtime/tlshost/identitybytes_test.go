package tlshost_test

import (
	"bytes"
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/guestbuild"
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(context.Background())
	ext := tlshost.New(tlshost.Config{BackendName: "stdtls", IdentityBytes: limit})
	log, rec := capreporttest.New()
	rt, err := runtime.New(ctx, r, runtime.Config{Logger: log, Extensions: []runtime.Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/idhog"))
	if err != nil {
		t.Fatal(err)
	}
	// The host's garbage collector runs now and then, as it would with
	// other work going on.
	gcDone := make(chan struct{})
	defer close(gcDone)
	go func() {
		for {
			select {
			case <-gcDone:
				return
			case <-time.After(50 * time.Millisecond):
				goruntime.GC()
			}
		}
	}()
	outs := make(chan string, 2)
	for range 2 {
		go func() {
			var out bytes.Buffer
			_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"idhog", "100", "50"}, Stdout: &out, Stderr: &out})
			outs <- fmt.Sprintf("%s(err %v)", out.String(), err)
		}()
	}
	for range 2 {
		out := <-outs
		if !strings.Contains(out, "parse 11: ") ||
			!strings.Contains(out, fmt.Sprintf("more than the %d allowed (tlshost.Config.IdentityBytes, wasitls run --max-identity-bytes)", limit)) ||
			!strings.Contains(out, "after close: ok\n(err <nil>)") {
			t.Errorf("guest output:\n%s\nwant parse 11 refused naming the limit, then room after closing", out)
		}
	}
	if err := rec.Check("--max-identity-bytes", limit, 2); err != nil {
		t.Error(err)
	}
}
