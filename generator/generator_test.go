package generator

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.bytecodealliance.org/wit"
)

var update = flag.Bool("update", false, "rewrite the golden generated code in internal/kitchen, internal/plugin, internal/tally and internal/proxy")

const modulePath = "github.com/wasitls/wasitls"

// repoRoot is the module root, two levels up from this file.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

var (
	loadMu sync.Mutex
	loaded = map[string]*wit.Resolve{}
)

// load loads WIT once per path per test binary.
func load(t testing.TB, path string) *wit.Resolve {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if res, ok := loaded[path]; ok {
		return res
	}
	res, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	loaded[path] = res
	return res
}

// compareTree compares files with the generated files under dir: same
// set, same bytes.
func compareTree(t *testing.T, dir string, files []File, hint string) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("generation produced no files")
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("%s: %v (%s)", f.Path, err, hint)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s differs from a fresh generation (%s)", f.Path, hint)
		}
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if bytes.HasPrefix(b, []byte("// "+header)) && !want[filepath.ToSlash(rel)] {
			t.Errorf("%s is a stale generated file (%s)", rel, hint)
		}
		return nil
	})
}

// TestGolden compares the generated code of the test WIT, which covers
// every WIT type kind, with the golden copy in internal/kitchen (which the
// ABI tests compile and run). Run with -update to rewrite it.
func TestGolden(t *testing.T) {
	res := load(t, "testdata/kitchen")
	files, err := Generate(res, Options{World: "test:kitchen/kitchen", Package: modulePath + "/generator/internal/kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write("internal/kitchen", files); err != nil {
			t.Fatal(err)
		}
	}
	compareTree(t, "internal/kitchen", files, "run go test ./generator -run TestGolden -update")
	if len(files) != 4 {
		t.Errorf("got %d files, want 4 (two interfaces, two files each)", len(files))
	}
}

// TestGoldenExports is TestGolden for a world that exports an interface
// with a resource the guest implements: the host callers in
// internal/plugin, the guest's exports in internal/pluginguest (the ABI
// tests build a guest on them and call it).
func TestGoldenExports(t *testing.T) {
	res := load(t, "testdata/kitchen")
	for _, side := range []struct {
		dir   string
		guest bool
	}{{"internal/plugin", false}, {"internal/pluginguest", true}} {
		files, err := Generate(res, Options{World: "test:kitchen/plugin-host", Package: modulePath + "/generator/" + side.dir, Guest: side.guest})
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := Write(side.dir, files); err != nil {
				t.Fatal(err)
			}
		}
		compareTree(t, side.dir, files, "run go test ./generator -run TestGoldenExports -update")
		if len(files) != 4 {
			t.Errorf("%s: got %d files, want 4 (the exported interface and the one it uses, two files each)", side.dir, len(files))
		}
	}
}

// TestGoldenGuest is TestGolden for the Go guest bindings of the test WIT
// (the golden copy is in internal/kitchenguest, which the ABI tests build
// into a guest and run against the host bindings).
func TestGoldenGuest(t *testing.T) {
	res := load(t, "testdata/kitchen")
	files, err := Generate(res, Options{World: "test:kitchen/kitchen", Package: modulePath + "/generator/internal/kitchenguest", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write("internal/kitchenguest", files); err != nil {
			t.Fatal(err)
		}
	}
	compareTree(t, "internal/kitchenguest", files, "run go test ./generator -run TestGoldenGuest -update")
	if len(files) != 4 {
		t.Errorf("got %d files, want 4 (two interfaces, two files each)", len(files))
	}
}

// TestGoldenCalc is TestGolden for a world whose guest exports functions:
// the host callers in internal/calc, the guest's exports in
// internal/calcguest (the ABI tests build the guest and call it).
func TestGoldenCalc(t *testing.T) {
	res := load(t, "testdata/kitchen")
	for _, side := range []struct {
		dir   string
		guest bool
	}{{"internal/calc", false}, {"internal/calcguest", true}} {
		files, err := Generate(res, Options{World: "test:kitchen/calc-plugin", Package: modulePath + "/generator/" + side.dir, Guest: side.guest})
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := Write(side.dir, files); err != nil {
				t.Fatal(err)
			}
		}
		compareTree(t, side.dir, files, "run go test ./generator -run TestGoldenCalc -update")
		if len(files) != 4 {
			t.Errorf("%s: got %d files, want 4 (the exported interface and the one it uses, two files each)", side.dir, len(files))
		}
	}
}

// TestGoldenTally is TestGolden for a world exporting a resource a
// component implements: the host callers in internal/tally (the ABI tests
// call a C component through them).
func TestGoldenTally(t *testing.T) {
	res := load(t, "testdata/kitchen")
	files, err := Generate(res, Options{World: "test:kitchen/tally-plugin", Package: modulePath + "/generator/internal/tally"})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write("internal/tally", files); err != nil {
			t.Fatal(err)
		}
	}
	compareTree(t, "internal/tally", files, "run go test ./generator -run TestGoldenTally -update")
	if len(files) != 2 {
		t.Errorf("got %d files, want 2 (the exported interface, two files)", len(files))
	}
}

// TestBindingsFresh regenerates the project's bindings from ../wit and
// fails when the committed ../bindings differ: the freshness check CI runs.
func TestBindingsFresh(t *testing.T) {
	root := repoRoot(t)
	res := load(t, filepath.Join(root, "wit"))
	files, err := Generate(res, Options{World: "wasitls:host/host", Package: modulePath + "/bindings"})
	if err != nil {
		t.Fatal(err)
	}
	compareTree(t, filepath.Join(root, "bindings"), files, "run go generate ./bindings")
}

// TestGuestBindingsFresh is TestBindingsFresh for the Go guest bindings of
// the wasitls:host/guest world in ../guest/wasi/bindings.
func TestGuestBindingsFresh(t *testing.T) {
	root := repoRoot(t)
	res := load(t, filepath.Join(root, "wit"))
	files, err := Generate(res, Options{World: "wasitls:host/guest", Package: modulePath + "/guest/wasi/bindings", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	compareTree(t, filepath.Join(root, "guest", "wasi", "bindings"), files, "run go generate ./guest/...")
}

// TestDeterministic generates twice and compares.
func TestDeterministic(t *testing.T) {
	res := load(t, filepath.Join(repoRoot(t), "wit"))
	opts := Options{World: "wasitls:host/host", Package: modulePath + "/bindings"}
	a, err := Generate(res, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(res, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s: output differs between two runs", a[i].Path)
		}
	}
}

// allWorld imports every interface of WASI 0.2.8 and of both wasi:tls
// WITs, plus the project's extensions.
const allWorld = `package test:all@0.1.0;

world all {
    include wasi:cli/imports@0.2.8;
    include wasi:filesystem/imports@0.2.8;
    include wasi:tls/imports@0.2.0-draft;
    import wasi:tls/tls@0.2.0-pr104;
    import wasitls:tls/extensions@0.1.0;
    import wasitls:tls/extensions@0.2.0;
    import wasitls:tls/extensions@0.3.0;
}
`

// TestAllWASIBuildsAndVets generates the whole of WASI 0.2.8 and both
// wasi:tls WITs into a scratch module and runs go build and go vet on it.
func TestAllWASIBuildsAndVets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module; skipped with -short")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	witDir := filepath.Join(dir, "wit")
	if err := os.MkdirAll(witDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(witDir, "world.wit"), []byte(allWorld), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(witDir, "deps"), os.DirFS(filepath.Join(root, "wit", "deps"))); err != nil {
		t.Fatal(err)
	}
	res, err := Load(witDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(res, Options{World: "test:all/all", Package: "example.com/all/bindings"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wasi/filesystem/types/", "wasi/filesystem/preopens/", "wasi/sockets/udp/", "wasi/tls/tls/", "wasi/tls/types/", "wasitls/tls/v0.1.0/extensions/", "wasitls/tls/v0.2.0/extensions/", "wasitls/tls/v0.3.0/extensions/"} {
		found := false
		for _, f := range files {
			found = found || strings.HasPrefix(f.Path, want)
		}
		if !found {
			t.Errorf("no package %s generated", want)
		}
	}
	if err := Write(filepath.Join(dir, "bindings"), files); err != nil {
		t.Fatal(err)
	}
	scratchModule(t, dir, "example.com/all")
	goCmd(t, dir, false, "build", "./...")
	goCmd(t, dir, false, "vet", "./...")
}

// TestGoldenProxy is TestGolden for wasi:http/proxy@0.2.8 (vendored in
// ../wit/deps/http), a real world with an export whose function takes
// host resources as own: the golden copy in internal/proxy is built and
// vetted with the module.
func TestGoldenProxy(t *testing.T) {
	res := load(t, filepath.Join(repoRoot(t), "wit"))
	files, err := Generate(res, Options{World: "wasi:http/proxy@0.2.8", Package: modulePath + "/generator/internal/proxy"})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write("internal/proxy", files); err != nil {
			t.Fatal(err)
		}
	}
	compareTree(t, "internal/proxy", files, "run go test ./generator -run TestGoldenProxy -update")
	var handler bool
	for _, f := range files {
		handler = handler || f.Path == "wasi/http/incoming-handler/incominghandler.glue.go" && bytes.Contains(f.Data, []byte("func (x *Exports) Handle(ctx context.Context, request IncomingRequest, responseOut ResponseOutparam) (err error)"))
	}
	if !handler {
		t.Error("no Exports.Handle for wasi:http/incoming-handler")
	}
}

// TestGoldenProxyGuest is TestGoldenProxy for the guest side: the Go guest
// bindings of wasi:http/proxy@0.2.8 (imports, and incoming-handler's handle
// as a //go:wasmexport function) in internal/proxyguest. It vets them, and
// the other golden guest bindings, for GOOS=wasip1.
func TestGoldenProxyGuest(t *testing.T) {
	res := load(t, filepath.Join(repoRoot(t), "wit"))
	files, err := Generate(res, Options{World: "wasi:http/proxy@0.2.8", Package: modulePath + "/generator/internal/proxyguest", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write("internal/proxyguest", files); err != nil {
			t.Fatal(err)
		}
	}
	compareTree(t, "internal/proxyguest", files, "run go test ./generator -run TestGoldenProxyGuest -update")
	var handler bool
	for _, f := range files {
		handler = handler || f.Path == "wasi/http/incoming-handler/incominghandler.guest.go" &&
			bytes.Contains(f.Data, []byte("//go:wasmexport wasi:http/incoming-handler@0.2.8#handle\n"))
	}
	if !handler {
		t.Error("no export of wasi:http/incoming-handler#handle")
	}
	if testing.Short() {
		t.Skip("vets for wasip1 with the go command; skipped with -short")
	}
	cmd := exec.Command("go", "vet", "./internal/proxyguest/...", "./internal/kitchenguest/...", "./internal/calcguest/...")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 go vet: %v\n%s", err, out)
	}
}
