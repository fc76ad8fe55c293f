package tlshost_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestRegisterTwice: a second wasi:tls host in one wazero runtime (a
// second runtime.New over it listing one) is refused with an error that
// says why and what to do, not wazero's "already instantiated".
func TestRegisterTwice(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{tlshost.New(tlshost.Config{})}}); err != nil {
		t.Fatal(err)
	}
	_, err := runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{tlshost.New(tlshost.Config{InsecureSkipVerify: true})}})
	if err == nil {
		t.Fatal("a second wasi:tls host was registered in one wazero runtime")
	}
	for _, want := range []string{"already has a wasi:tls host", "make a wazero.Runtime for each wasi:tls configuration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// TestForeignRuntimeGuest: a runtime.Runtime without wasi:tls, made over a
// wazero runtime where another runtime.Runtime registered a wasi:tls host,
// does not lend its guests that host. Its core modules link to the
// registered host modules all the same (host modules belong to the wazero
// runtime), so before, such a guest took an identity the other runtime's
// host held and connected under that host's InsecureSkipVerify. Now the
// host traps each of its calls with a reason; the other runtime's guests
// are served, and a host the embedder registered itself (Host.Register)
// still serves every guest of the wazero runtime.
func TestForeignRuntimeGuest(t *testing.T) {
	ctx := context.Background()
	p := newGuestPKI(t)
	id, err := tlshost.LoadIdentity(tlshost.Config{}, filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlshost.Config{InsecureSkipVerify: true, Identities: map[string]*backends.Identity{"web": id}}
	wasm := guestbuild.MustBuild(t, "./testdata/ext02")

	// A server whose certificate no one trusts: only InsecureSkipVerify
	// lets a client through.
	untrusted, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := untrusted.Issue(testpki.LeafOptions{})
	if err != nil {
		t.Fatal(err)
	}
	serverCfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}}
	port := strconv.Itoa(testnet.Serve(t, func(c net.Conn) { io.Copy(io.Discard, tls.Server(c, serverCfg)); c.Close() }).Port)

	policy := new(sockets.Policy)
	policy.AllowConnect("127.0.0.1:*")
	run := func(t *testing.T, r wazero.Runtime, rt *runtime.Runtime, args ...string) (string, error) {
		t.Helper()
		compiled, err := runtime.CompileModule(ctx, r, wasm)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		m, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: append([]string{"ext02"}, args...), Stdout: &out, Stderr: &out})
		if m != nil {
			m.Close(ctx)
		}
		return out.String(), err
	}

	t.Run("another runtime's host", func(t *testing.T) {
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
		defer r.Close(ctx)
		owner, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{tlshost.New(cfg)}, StopFlag: true})
		if err != nil {
			t.Fatal(err)
		}
		other, err := runtime.New(ctx, r, runtime.Config{Network: policy, StopFlag: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"parse", "host:web", "-"}, {"say", "127.0.0.1", port, "hi"}, {"algorithms"}} {
			out, err := run(t, r, other, args...)
			if err == nil || !strings.Contains(err.Error(), "the guest's runtime.Runtime has no wasi:tls host") {
				t.Errorf("%s: a guest of a runtime without wasi:tls was served by another runtime's host: err %v\n%s", args[0], err, out)
			}
		}
		// The owner's guests are served.
		out, err := run(t, r, owner, "parse", "host:web", "-")
		if err != nil || !strings.Contains(out, "parse: ok") {
			t.Errorf("the owner's guest: %v\n%s", err, out)
		}
		out, err = run(t, r, owner, "say", "127.0.0.1", port, "hi")
		if err != nil || !strings.Contains(out, "said it") {
			t.Errorf("the owner's guest: %v\n%s", err, out)
		}
	})

	t.Run("a host the embedder registered", func(t *testing.T) {
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
		defer r.Close(ctx)
		h, err := tlshost.NewHost(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Register(ctx, r); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, StopFlag: true})
			if err != nil {
				t.Fatal(err)
			}
			if out, err := run(t, r, rt, "parse", "host:web", "-"); err != nil || !strings.Contains(out, "parse: ok") {
				t.Errorf("a guest of a host the embedder registered: %v\n%s", err, out)
			}
		}
	})
}

// TestExtensionInTwoRuntimes: one extension (one tlshost.New) listed by
// two runtime.Runtimes, each over a wazero runtime of its own, serves the
// guests of both: each Runtime listed it, so its guests are the host's.
// Before, the extension's second registration replaced its first host in
// the guests it marked, and the first Runtime's guests were trapped as
// another runtime's.
func TestExtensionInTwoRuntimes(t *testing.T) {
	ctx := context.Background()
	p := newGuestPKI(t)
	id, err := tlshost.LoadIdentity(tlshost.Config{}, filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	ext := tlshost.New(tlshost.Config{Identities: map[string]*backends.Identity{"web": id}})
	wasm := guestbuild.MustBuild(t, "./testdata/ext02")
	var rts []*runtime.Runtime
	var rs []wazero.Runtime
	for range 2 {
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
		defer r.Close(ctx)
		rt, err := runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{ext}, StopFlag: true})
		if err != nil {
			t.Fatal(err)
		}
		rs, rts = append(rs, r), append(rts, rt)
	}
	for i, rt := range rts {
		compiled, err := runtime.CompileModule(ctx, rs[i], wasm)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		m, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"ext02", "parse", "host:web", "-"}, Stdout: &out, Stderr: &out})
		if m != nil {
			m.Close(ctx)
		}
		if err != nil || !strings.Contains(out.String(), "parse: ok") {
			t.Errorf("runtime %d: %v\n%s", i+1, err, out.String())
		}
	}
}

// TestForeignRuntimeGuestStreams: a guest of a runtime without wasi:tls
// (as in TestForeignRuntimeGuest) that hands its socket's streams to a
// wasi:tls constructor, the draft's client-handshake or the proposal's
// client-connection, is trapped, and its connection closes with it: the
// peer reads the end at once. The constructor's glue has moved the
// streams out of the guest's table, so the instance's close does not drop
// them; before, the trap left them to the garbage collector, and the
// connection (which its streams hold open) with them.
func TestForeignRuntimeGuestStreams(t *testing.T) {
	ctx := context.Background()
	p := newGuestPKI(t)
	policy := new(sockets.Policy)
	policy.AllowConnect("127.0.0.1:*", "localhost:*")
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(ctx)
	if _, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{tlshost.New(tlshost.Config{RootCAs: p.ca.Pool()})}, StopFlag: true}); err != nil {
		t.Fatal(err)
	}
	other, err := runtime.New(ctx, r, runtime.Config{Network: policy, StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, pkg string
		args      []string
	}{
		{"draft", "./testdata/drafthostile", []string{"handshake", "localhost"}},
		{"pr104", "./testdata/ext02", []string{"say", "127.0.0.1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The peer reports its connection's end.
			ended := make(chan struct{}, 1)
			port := strconv.Itoa(testnet.Serve(t, func(c net.Conn) {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				io.Copy(io.Discard, c)
				c.Close()
				ended <- struct{}{}
			}).Port)
			args := append(c.args, port)
			if c.name == "pr104" {
				args = append(args, "hi")
			}
			compiled, err := runtime.CompileModule(ctx, r, guestbuild.MustBuild(t, c.pkg))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			m, err := other.Instantiate(gctx, compiled, runtime.ModuleConfig{Args: append([]string{c.name}, args...), Stdout: &out, Stderr: &out})
			if m != nil {
				m.Close(ctx)
			}
			if err == nil || !strings.Contains(err.Error(), "the guest's runtime.Runtime has no wasi:tls host") {
				t.Fatalf("want a trap naming the missing host: %v\n%s", err, out.String())
			}
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the trapped guest's connection is still open 5 s later")
			}
		})
	}
}

// TestExtensionInTwoRuntimesConcurrently: one runtime.Config, its
// tlshost.New extension among its Extensions, given to two runtime.New
// calls at once, each over a wazero runtime of its own, whose guests run
// while the other Runtime is made. Before, each registration replaced the
// extension's host in a field every guest's instantiation read, unlocked:
// a data race (go test -race reports it).
func TestExtensionInTwoRuntimesConcurrently(t *testing.T) {
	ctx := context.Background()
	p := newGuestPKI(t)
	id, err := tlshost.LoadIdentity(tlshost.Config{}, filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := runtime.Config{Extensions: []runtime.Extension{tlshost.New(tlshost.Config{Identities: map[string]*backends.Identity{"web": id}})}, StopFlag: true}
	wasm := guestbuild.MustBuild(t, "./testdata/ext02")
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			errs <- func() error {
				r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
				defer r.Close(ctx)
				rt, err := runtime.New(ctx, r, cfg)
				if err != nil {
					return err
				}
				compiled, err := runtime.CompileModule(ctx, r, wasm)
				if err != nil {
					return err
				}
				for range 3 {
					var out bytes.Buffer
					m, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"ext02", "parse", "host:web", "-"}, Stdout: &out, Stderr: &out})
					if m != nil {
						m.Close(ctx)
					}
					if err != nil || !strings.Contains(out.String(), "parse: ok") {
						return fmt.Errorf("runtime %d: %v\n%s", i+1, err, out.String())
					}
				}
				return nil
			}()
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestIdentitiesCopied: the host keeps its own copy of
// Config.Identities, as it does of the lists, so an embedder that reuses
// or changes its map once the runtime is made changes nothing its guests
// see, and never writes a map the guests' host-identity calls read
// (Go's maps abort the process on such a race). Before, the host kept
// the embedder's map.
func TestIdentitiesCopied(t *testing.T) {
	ctx := context.Background()
	p := newGuestPKI(t)
	id, err := tlshost.LoadIdentity(tlshost.Config{}, filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]*backends.Identity{"web": id}
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{tlshost.New(tlshost.Config{Identities: ids})}, StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	delete(ids, "web")
	ids["other"] = id
	compiled, err := runtime.CompileModule(ctx, r, guestbuild.MustBuild(t, "./testdata/ext02"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{{"web", "parse: ok"}, {"other", "holds no identity named"}} {
		var out bytes.Buffer
		m, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"ext02", "parse", "host:" + tc.name, "-"}, Stdout: &out, Stderr: &out})
		if m != nil {
			m.Close(ctx)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("host:%s after the embedder changed its map: %v\n%s\nwant %q", tc.name, err, out.String(), tc.want)
		}
	}
}
