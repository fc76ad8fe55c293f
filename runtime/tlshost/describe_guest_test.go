package tlshost_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// What a backend says of itself (Name, and Supported and Defaults of a
// backends.Describer) is asked once, when the host is made, under the
// shield: a panic there is an error of tlshost.NewHost, of runtime.New
// through tlshost.New, and of LoadIdentity, never a crash; and nothing a
// guest does enters those methods again.

// A describePanics wraps a registered backend: its Name, Supported or
// Defaults panics, the one panicIn names, or all three once armed. calls
// counts the calls of the three.
type describePanics struct {
	backends.Describer
	panicIn string
	armed   atomic.Bool
	calls   atomic.Int32
}

func (b *describePanics) maybe(op string) {
	b.calls.Add(1)
	if b.panicIn == op || b.armed.Load() {
		panic(panicValue(op))
	}
}

func (b *describePanics) Name() string {
	b.maybe("Name")
	return b.Describer.Name()
}

func (b *describePanics) Supported() backends.Algorithms {
	b.maybe("Supported")
	return b.Describer.Supported()
}

func (b *describePanics) Defaults() backends.Algorithms {
	b.maybe("Defaults")
	return b.Describer.Defaults()
}

// TestNewHostDescriptionPanics: a backend whose Name, Supported or
// Defaults panics makes NewHost, and runtime.New with tlshost.New, fail
// with a *BackendPanicError naming the method and the panic's value on
// one line; the stack goes to the host's log.
func TestNewHostDescriptionPanics(t *testing.T) {
	ctx := context.Background()
	for name, d := range describers(t) {
		for _, op := range []string{"Name", "Supported", "Defaults"} {
			t.Run(name+"/"+op, func(t *testing.T) {
				logs := new(syncbuf.Buffer)
				cfg := tlshost.Config{Backend: &describePanics{Describer: d, panicIn: op}, Logger: slog.New(slog.NewTextHandler(logs, nil))}
				check := func(what string, err error) {
					t.Helper()
					var p *tlshost.BackendPanicError
					if !errors.As(err, &p) || p.Op != op || p.Value != "test panic in "+op+" second line" {
						t.Errorf("%s: %v, want the panic in %s", what, err, op)
					}
				}
				_, err := tlshost.NewHost(cfg)
				check("NewHost", err)
				r := wazero.NewRuntime(ctx)
				defer r.Close(ctx)
				_, err = runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{tlshost.New(cfg)}})
				check("runtime.New", err)
				if l := logs.String(); !strings.Contains(l, "panicked in "+op) || !strings.Contains(l, "stack=") {
					t.Errorf("the host's log lacks the panic with its stack:\n%s", l)
				}
			})
		}
	}
}

// TestNewHostProbePanics: a host whose Config narrows the versions has
// the backend make a connection when it starts (the probe of its lists);
// a panic of the backend's Client or of that connection's Close makes
// NewHost fail with a *BackendPanicError naming the method that
// panicked. Before, a panic in Close was reported as one in Client.
func TestNewHostProbePanics(t *testing.T) {
	for name, d := range describers(t) {
		for _, op := range []string{"Client", "Close"} {
			t.Run(name+"/"+op, func(t *testing.T) {
				logs := new(syncbuf.Buffer)
				b := &panickyBackend{Describer: d, plan: []string{op}}
				_, err := tlshost.NewHost(tlshost.Config{Backend: b, Versions: []uint16{0x0304}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
				var p *tlshost.BackendPanicError
				if !errors.As(err, &p) || p.Op != op {
					t.Errorf("NewHost: %v, want the panic in %s", err, op)
				}
				if l := logs.String(); !strings.Contains(l, "panicked in "+op) {
					t.Errorf("the host's log lacks the panic in %s:\n%s", op, l)
				}
			})
		}
	}
}

// TestLoadIdentityPanics: a backend whose ParseIdentity panics makes
// LoadIdentity fail with the panic, naming the files; the next load
// works.
func TestLoadIdentityPanics(t *testing.T) {
	p := newGuestPKI(t)
	for name, d := range describers(t) {
		t.Run(name, func(t *testing.T) {
			b := &panickyBackend{Describer: d}
			b.panicParse.Store(true)
			cfg := tlshost.Config{Backend: b}
			cert, key := filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key")
			_, err := tlshost.LoadIdentity(cfg, cert, key)
			var pe *tlshost.BackendPanicError
			if !errors.As(err, &pe) || pe.Op != "ParseIdentity" || !strings.Contains(err.Error(), cert) {
				t.Errorf("LoadIdentity over a ParseIdentity that panics: %v", err)
			}
			if id, err := tlshost.LoadIdentity(cfg, cert, key); err != nil || id == nil {
				t.Errorf("the next LoadIdentity: %v", err)
			}
		})
	}
}

// TestGuestDescriptionAfterSetup: once the host is made, a backend whose
// Name, Supported and Defaults would panic is not entered there again:
// a wasm guest reads the algorithms the backend described when the host
// was made, and a client guest's connections (one failing in Client, one
// in Handshake, one in Read, one working) log, fail and succeed as over
// any backend, naming it by the name it gave then; nothing is left
// behind.
func TestGuestDescriptionAfterSetup(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, panickyGuest)
	guestbuild.MustBuild(t, "./testdata/ext02")
	plan := []string{"Client", "Handshake", "Read", ""}
	addr := echoLineServer(t, p)
	for name, d := range describers(t) {
		t.Run(name, func(t *testing.T) {
			leftBehind(t, func(t *testing.T) {
				dp := &describePanics{Describer: d}
				b := &panickyBackend{Describer: dp, plan: plan}
				logs := new(syncbuf.Buffer)
				gr := newGuestRuntime(t, panicHostConfig(b, logs), p)
				dp.armed.Store(true)
				before := dp.calls.Load()

				out, err := gr.start(t, "./testdata/ext02", nil, "algorithms").wait(t)
				if err != nil {
					t.Fatalf("ext02 guest: %v\n%s", err, out)
				}
				sup, def := d.Supported(), d.Defaults()
				mustContain(t, out,
					fmt.Sprintf("allowed versions=%#04x suites=%#04x groups=%#04x", sup.Versions, sup.CipherSuites, sup.Groups),
					fmt.Sprintf("default versions=%#04x suites=%#04x groups=%#04x", def.Versions, def.CipherSuites, def.Groups))

				out, err = gr.start(t, panickyGuest, nil, "client", addr.String(), fmt.Sprint(len(plan))).wait(t)
				if err != nil {
					t.Fatalf("panicky guest: %v\n%s", err, out)
				}
				if n := dp.calls.Load() - before; n != 0 {
					t.Errorf("the guests' calls entered Name, Supported or Defaults %d times", n)
				}
				dp.armed.Store(false)
				checkPanicRounds(t, b, out, logs.String(), plan, "ok ping")
			})
		})
	}
}

// TestHostBackendIsTheEmbedders: Host.Backend returns the backend the
// embedder gave, not the host's hold on it.
func TestHostBackendIsTheEmbedders(t *testing.T) {
	real, _ := backends.ByName("stdtls")
	b := &describePanics{Describer: real.(backends.Describer)}
	h, err := tlshost.NewHost(tlshost.Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Backend(); got != backends.Backend(b) {
		t.Errorf("Host.Backend() = %T, want the embedder's %T", got, b)
	}
}
