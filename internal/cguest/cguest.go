// Package cguest builds C guests for tests: core modules with clang and
// wasi-libc (Debian's clang, lld, wasi-libc and libclang-rt-dev-wasm32),
// and components from them with jco 1.35 (`jco new`, with the preview1
// adapters it ships, and `jco embed` for WIT imports). A test that needs a
// missing tool skips with a loud INTEROP PEER MISSING reason on a
// developer machine and fails in CI (see internal/testpeer).
package cguest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/internal/cguest/include"
	"github.com/wasitls/wasitls/internal/testpeer"
)

// Adapter selects the preview1 adapter `jco new` wraps a core module with.
type Adapter string

// Adapters.
const (
	None    Adapter = ""
	Command Adapter = "--wasi-command"
	Reactor Adapter = "--wasi-reactor"
)

// Tools are the paths of the toolchain.
type Tools struct {
	Clang, Node, Jco string
}

// Require returns the toolchain, or skips (fails under CI=true) naming
// what is missing and how to install it.
func Require(t testing.TB) Tools {
	t.Helper()
	tools, missing, hint := find()
	if missing != "" {
		testpeer.Missing(t, missing, hint)
	}
	return tools
}

func find() (tools Tools, missing, hint string) {
	var err error
	if tools.Clang, err = exec.LookPath("clang"); err != nil {
		return tools, "clang", "install: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32"
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		return tools, "wasm-ld", "install: apt-get install lld"
	}
	if _, err := os.Stat("/usr/include/wasm32-wasi/stdio.h"); err != nil {
		return tools, "wasi-libc", "install: apt-get install wasi-libc libclang-rt-dev-wasm32"
	}
	if tools.Node, err = exec.LookPath("node"); err != nil {
		return tools, "node", "install: apt-get install nodejs"
	}
	tools.Jco = os.Getenv("WASITLS_JCO")
	if tools.Jco == "" {
		if root, ok := repoRoot(); ok {
			tools.Jco = filepath.Join(root, ".cache", "jco", "node_modules", "@bytecodealliance", "jco", "dist", "jco.js")
		}
	}
	if _, err := os.Stat(tools.Jco); tools.Jco == "" || err != nil {
		return tools, "jco 1.35", `WASITLS_JCO names dist/jco.js; install: npm install --prefix .cache/jco @bytecodealliance/jco@1.35.0`
	}
	return tools, "", ""
}

func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// WITDeps returns the directories of the named packages in the
// repository's wit/deps (such as "io" or "tls-pr104"), for Spec.WITDeps.
func WITDeps(names ...string) []string {
	root, _ := repoRoot()
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(root, "wit", "deps", n)
	}
	return out
}

// TLSServer is the spec of the C TLS server component on the full
// wasi:tls proposal, runtime/tlshost/testdata/components/tlsserver.c (a
// reactor with its own _start, see there), which the runtime/tlshost and
// cmd/wasitls tests run.
func TLSServer() Spec {
	root, _ := repoRoot()
	dir := filepath.Join(root, "runtime", "tlshost", "testdata", "components")
	return Spec{
		Sources: []string{filepath.Join(dir, "tlsserver.c")},
		CFlags:  []string{"-mexec-model=reactor", "-Wall", "-Werror"},
		WIT:     filepath.Join(dir, "tlsserver.wit"), World: "server",
		WITDeps: WITDeps("io", "clocks", "sockets", "tls-pr104", "wasitls-ext-0.2.0"),
		Adapter: Command,
	}
}

type result struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	mu    sync.Mutex
	cache = map[string]*result{}
)

// BuildJS builds a JavaScript component with componentize-js (shipped
// with jco) from source, the world World of the WIT file wit, with the
// componentize-js features in disable turned off (once per process).
func BuildJS(t testing.TB, source, wit, world string, disable ...string) []byte {
	t.Helper()
	tools := Require(t)
	key := fmt.Sprint("js", source, wit, world, disable)
	mu.Lock()
	r, ok := cache[key]
	if !ok {
		r = &result{}
		cache[key] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = buildJS(tools, source, wit, world, disable) })
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.wasm
}

func buildJS(tools Tools, source, wit, world string, disable []string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "cguest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wit, err = filepath.Abs(wit)
	if err != nil {
		return nil, err
	}
	cz := filepath.Join(filepath.Dir(tools.Jco), "..", "..", "componentize-js", "src", "componentize.js")
	out := filepath.Join(dir, "component.wasm")
	if err := run(tools.Node, "--input-type=module", "-e", componentizeScript, cz, source, wit, world, out, strings.Join(disable, ",")); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// componentizeScript runs componentize-js through its API.
const componentizeScript = `
import { readFile, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [cz, source, witPath, worldName, out, disable] = process.argv.slice(1);
const { componentize } = await import(pathToFileURL(cz).href);
const { component } = await componentize(await readFile(source, "utf8"), {
  witPath, worldName, disableFeatures: disable ? disable.split(",") : [],
});
await writeFile(out, component);
`

// A Spec says how to build one guest. The headers of package include
// (the raw imports the guests share) are on the include path.
type Spec struct {
	// Sources are C files; CFlags are extra clang flags.
	Sources []string
	CFlags  []string
	// WIT (one .wit file) and World, when set, are embedded first, as
	// `jco embed` does. WITDeps are package directories (each a package's
	// .wit files, such as wit/deps/io) nested into the WIT for it.
	WIT, World string
	WITDeps    []string
	// Adapter is the preview1 adapter; None makes a component only when
	// WIT is set, and Core builds no component at all.
	Adapter Adapter
	Core    bool
}

// Build builds the guest (once per process) and returns its bytes: a
// component, or a core module when spec.Core.
func Build(t testing.TB, spec Spec) []byte {
	t.Helper()
	tools := Require(t)
	key := fmt.Sprintf("%#v", spec)
	mu.Lock()
	r, ok := cache[key]
	if !ok {
		r = &result{}
		cache[key] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = build(tools, spec) })
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.wasm
}

func build(tools Tools, spec Spec) ([]byte, error) {
	dir, err := os.MkdirTemp("", "cguest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	core, inc := filepath.Join(dir, "core.wasm"), filepath.Join(dir, "include")
	if err := include.Write(inc); err != nil {
		return nil, err
	}
	args := append([]string{"--target=wasm32-wasi", "-O2", "-I", inc, "-o", core}, spec.CFlags...)
	args = append(args, spec.Sources...)
	if err := run(tools.Clang, args...); err != nil {
		return nil, err
	}
	if spec.Core {
		return os.ReadFile(core)
	}
	in := core
	if spec.WIT != "" {
		wit, err := bundleWIT(spec.WIT, spec.WITDeps)
		if err != nil {
			return nil, err
		}
		witFile := filepath.Join(dir, "world.wit")
		if err := os.WriteFile(witFile, wit, 0o644); err != nil {
			return nil, err
		}
		in = filepath.Join(dir, "embedded.wasm")
		api := filepath.Join(filepath.Dir(tools.Jco), "api.js")
		if err := run(tools.Node, "--input-type=module", "-e", embedScript, api, core, witFile, spec.World, in); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "component.wasm")
	args = []string{tools.Jco, "new", in, "-o", out}
	if spec.Adapter != None {
		args = append(args, string(spec.Adapter))
	}
	if err := run(tools.Node, args...); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// embedScript is `jco embed` through jco's API with the WIT as source
// text (one file, dependencies nested), which does not depend on how the
// embedded wasm-tools sees the file system.
const embedScript = `
import { readFile, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [api, core, wit, world, out] = process.argv.slice(1);
const { componentEmbed } = await import(pathToFileURL(api).href);
const bin = await componentEmbed({
  binary: await readFile(core), witSource: await readFile(wit, "utf8"), world, features: { tag: "all" },
});
await writeFile(out, bin);
`

// bundleWIT returns the WIT file main with the packages in deps nested in
// it: each directory's files, their package line removed, inside one
// "package NAME { ... }" block.
func bundleWIT(main string, deps []string) ([]byte, error) {
	out, err := os.ReadFile(main)
	if err != nil {
		return nil, err
	}
	for _, dir := range deps {
		files, err := filepath.Glob(filepath.Join(dir, "*.wit"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("cguest: no .wit files in %s", dir)
		}
		pkg := ""
		var body []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if m := packageLine.FindSubmatchIndex(b); m != nil {
				name := string(b[m[2]:m[3]])
				if pkg != "" && name != pkg {
					return nil, fmt.Errorf("cguest: %s mixes packages %s and %s", dir, pkg, name)
				}
				pkg = name
				b = append(b[:m[0]:m[0]], b[m[1]:]...)
			}
			body = append(append(body, b...), '\n')
		}
		if pkg == "" {
			return nil, fmt.Errorf("cguest: no package line in %s", dir)
		}
		out = append(out, fmt.Sprintf("\npackage %s {\n%s}\n", pkg, body)...)
	}
	return out, nil
}

var packageLine = regexp.MustCompile(`(?m)^package ([^;\s]+);`)

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cguest: %s %v: %v\n%s", filepath.Base(name), args, err, out.String())
	}
	return nil
}
