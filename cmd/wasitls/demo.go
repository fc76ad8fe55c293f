package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	_ "github.com/wasitls/wasitls/backends/circl-pq"
	_ "github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

func init() {
	register(&command{
		Name:    "demo",
		Summary: "run the example TLS server and client guests against each other, per backend",
		Run:     demoCommand,
	})
	runExtensions = append(runExtensions, tlsRunFlags)
}

const demoUsage = `usage: wasitls demo [--backend NAME] [--compilation-cache DIR]

Builds the example guests (examples/server-showcase, examples/client-showcase
and examples/client-minimal) for GOOS=wasip1 with the go command, mints a
throwaway CA with two server identities and a client identity in memory,
and runs, in this one process over loopback:

  1. client-showcase -> server-showcase as example.com: ALPN h2, custom
     verification, a client certificate requested and sent;
  2. client-minimal -> server-showcase as localhost: no client certificate,
     GET /secure, so the server attempts post-handshake authentication.

Both sides print what they negotiated. Without --backend, every registered
backend is demonstrated in turn. Run it from the module's source tree (go
run ./cmd/wasitls demo): the guests are built from source.

flags:
`

// demoGuests are the example packages the demo runs.
var demoGuests = []string{"server-showcase", "client-showcase", "client-minimal"}

func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backend := fs.String("backend", "", "demonstrate only this `backend` ("+strings.Join(backends.Names(), ", ")+")")
	cacheDir := fs.String("compilation-cache", "", "keep the guests' compiled code in `DIR` and load it from there in later runs, as for wasitls run (off by default)")
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	names := backends.Names()
	if *backend != "" {
		if _, err := backends.ByName(*backend); err != nil {
			return err
		}
		names = []string{*backend}
	}

	fmt.Fprintln(stdout, "building the example guests (GOOS=wasip1 GOARCH=wasm) ...")
	wasm := map[string][]byte{}
	for _, g := range demoGuests {
		b, err := guestbuild.Build("github.com/wasitls/wasitls/examples/" + g)
		if err != nil {
			return fmt.Errorf("demo: %w (run the demo from the wasitls source tree)", err)
		}
		wasm[g] = b
	}
	var cache *runtime.CompilationCache
	if *cacheDir != "" {
		var err error
		if cache, err = runtime.OpenCompilationCache(*cacheDir, "--compilation-cache"); err != nil {
			return err
		}
		defer cache.Close(context.Background())
	}
	// Each backend's runtime compiles the same three guests: wazero
	// compiles each once, the other runtimes finding its code in memory.
	shared, closeShared := sharedCache(cache)
	defer closeShared()
	pki, err := newDemoPKI()
	if err != nil {
		return err
	}
	defer os.RemoveAll(pki.dir)

	for _, name := range names {
		fmt.Fprintf(stdout, "\n=== backend %s\n", name)
		if err := runDemo(ctx, name, wasm, pki, cache, shared, stdout); err != nil {
			return fmt.Errorf("demo: backend %s: %w", name, err)
		}
	}
	return nil
}

// demoPKI is a throwaway CA, its identities written to a directory the
// guests get preopened as /certs.
type demoPKI struct {
	ca  *testpki.CA
	dir string
}

func newDemoPKI() (*demoPKI, error) {
	ca, err := testpki.NewCAWith("wasitls demo CA", testpki.ECDSAP256)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wasitls-demo")
	if err != nil {
		return nil, err
	}
	leaves := []struct {
		file string
		opts testpki.LeafOptions
	}{
		{"example", testpki.LeafOptions{DNSNames: []string{"example.com"}}},
		{"localhost", testpki.LeafOptions{}},
		{"client", testpki.LeafOptions{CommonName: "demo client", EmailAddresses: []string{"client@example.com"}, Usage: testpki.ClientAuth}},
	}
	for _, l := range leaves {
		leaf, err := ca.Issue(l.opts)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := errors.Join(
			os.WriteFile(filepath.Join(dir, l.file+".key"), leaf.KeyPEM(), 0o600),
			os.WriteFile(filepath.Join(dir, l.file+".pem"), leaf.ChainPEM(), 0o600),
		); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return &demoPKI{ca: ca, dir: dir}, nil
}

// runDemo runs the server guest and two client connections over backend,
// compiling the guests through cache when not nil, else with shared.
func runDemo(ctx context.Context, backend string, wasm map[string][]byte, pki *demoPKI, cache *runtime.CompilationCache, shared wazero.CompilationCache, stdout io.Writer) error {
	var out sync.Mutex // serializes the lines of the guests and the host
	policy := new(sockets.Policy)
	if err := policy.AllowListen("127.0.0.1:*"); err != nil {
		return err
	}
	if err := policy.AllowConnect("127.0.0.1:*", "localhost:*"); err != nil {
		return err
	}
	ext := tlshost.New(tlshost.Config{BackendName: backend, RootCAs: pki.ca.Pool(), ClientCAs: pki.ca.Pool(), Logger: demoLogger(stdout, &out)})

	r := newRuntimeShared(ctx, runtime.NewFastRuntimeConfig(), cache, shared)
	defer r.Close(context.Background())
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{ext}, StopFlag: true})
	if err != nil {
		return err
	}
	compiled := map[string]wazero.CompiledModule{}
	for name, b := range wasm {
		if compiled[name], err = runtime.CompileModule(ctx, r, b); err != nil {
			return fmt.Errorf("compile %s: %w", name, err)
		}
	}
	certs := []runtime.Dir{{Host: pki.dir, Guest: "/certs", ReadOnly: true}}

	// The server serves two connections, then exits.
	serverOut, serverW := io.Pipe()
	serverDone := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled["server-showcase"], runtime.ModuleConfig{
			Args:   []string{"server-showcase", "0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", "2"},
			Stdout: serverW, Stderr: serverW, Dirs: certs,
		})
		serverW.CloseWithError(io.EOF)
		serverDone <- err
	}()
	lines := bufio.NewScanner(serverOut)
	port := ""
	for lines.Scan() {
		if p, ok := strings.CutPrefix(lines.Text(), "listening on 127.0.0.1:"); ok {
			port = p
			break
		}
		fmt.Fprintln(stdout, "  [server] "+lines.Text())
	}
	if port == "" {
		return fmt.Errorf("server-showcase did not start: %v", <-serverDone)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for lines.Scan() {
			out.Lock()
			fmt.Fprintln(stdout, "  [server] "+lines.Text())
			out.Unlock()
		}
	}()

	clients := []struct {
		title string
		guest string
		args  []string
		env   []string
	}{
		{"client-showcase -> example.com (ALPN h2, client certificate)", "client-showcase",
			[]string{"client-showcase", "example.com", port, "/certs/client.key", "/certs/client.pem"}, []string{"CONNECT_TO=127.0.0.1"}},
		{"client-minimal -> localhost GET /secure (post-handshake authentication: circl-pq does it, crypto/tls cannot, so stdtls says so)", "client-minimal",
			[]string{"client-minimal", "localhost", port, "/secure"}, nil},
	}
	for _, c := range clients {
		out.Lock()
		fmt.Fprintf(stdout, "--- %s\n", c.title)
		out.Unlock()
		w := &prefixWriter{w: stdout, mu: &out, prefix: "  [client] "}
		_, err := rt.Instantiate(ctx, compiled[c.guest], runtime.ModuleConfig{
			Args: c.args, Env: c.env, Stdout: w, Stderr: w, Dirs: certs,
		})
		w.flush()
		if err != nil {
			return fmt.Errorf("%s: %w", c.guest, err)
		}
	}
	err = <-serverDone
	<-copied
	if err != nil {
		return fmt.Errorf("server-showcase: %w", err)
	}
	return nil
}

// demoLogger shows the host's reasons for failures the proposal's results
// cannot carry to the guest, as "[host]" lines.
func demoLogger(stdout io.Writer, mu *sync.Mutex) *slog.Logger {
	w := &prefixWriter{w: stdout, mu: mu, prefix: "  [host]   "}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// prefixWriter prefixes every line written through it.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.Write([]byte("\n"))
	}
}
