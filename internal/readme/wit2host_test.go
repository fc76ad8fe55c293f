package readme

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// walkthrough is what docs/wit2host.md's "A plugin, end to end" section
// shows: the files by path, the commands, and the host's output.
type walkthrough struct {
	files  map[string]string
	output string
	text   string
}

// fileLine matches the line naming the file the next code block holds:
// it ends with "`path`:".
var fileLine = regexp.MustCompile("`([^`]+)`:$")

// parseWalkthrough splits the section under heading into its code blocks.
// A block whose preceding line ends with "`path`:" is that file, one after
// "which prints" is the expected output; the others are commands.
func parseWalkthrough(t *testing.T, doc, heading string) walkthrough {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/wit2host.md has no heading %q", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	w := walkthrough{files: map[string]string{}, text: section}
	lines := strings.Split(section, "\n")
	prev := ""
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "```") {
			if line != "" {
				prev = line
			}
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		var body strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body.WriteString(strings.TrimPrefix(lines[i], indent) + "\n")
		}
		if i == len(lines) {
			t.Fatalf("docs/wit2host.md: unterminated code block after %q", prev)
		}
		switch m := fileLine.FindStringSubmatch(prev); {
		case m != nil:
			if _, dup := w.files[m[1]]; dup {
				t.Fatalf("docs/wit2host.md: %s shown twice", m[1])
			}
			w.files[m[1]] = body.String()
		case prev == "which prints":
			w.output = body.String()
		}
		prev = ""
	}
	return w
}

// setupEdit is the walk-through's go mod edit command, which points the new
// module at a checkout beside it and records the generator as a tool.
const setupEdit = "go mod edit -require=github.com/wasitls/wasitls@v0.0.0 -replace=github.com/wasitls/wasitls=../wasitls -tool=github.com/wasitls/wasitls/cmd/wit2host"

// TestPluginWalkthrough follows docs/wit2host.md's plugin walk-through as a
// newcomer would, outside this module: it writes the files the section shows
// into a new module beside a link to this tree that it requires through
// the section's go mod edit (a replace directive), generates both sides with go
// generate, vets them, builds the guest for wasip1 and the host, runs the
// host on the guest and compares its output with the section's. It then
// makes each mistake of the section's table (a host module not defined,
// _initialize not run, the guest built as a command, SetExports not called)
// and checks the error the table quotes.
func TestPluginWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module, a guest and two hosts")
	}
	doc, err := os.ReadFile("../../docs/wit2host.md")
	if err != nil {
		t.Fatal(err)
	}
	w := parseWalkthrough(t, string(doc), "## A plugin, end to end")
	for _, f := range []string{"wit/world.wit", "bindings/generate.go", "guest/bindings/generate.go", "guest/plugin/main.go", "host/main.go"} {
		if w.files[f] == "" {
			t.Fatalf("the walk-through shows no %s", f)
		}
	}
	if w.output == "" {
		t.Fatal(`the walk-through shows no output ("which prints" and a block)`)
	}
	commands := []string{
		"go mod init example.com/app",
		setupEdit,
		"go mod tidy",
		"go generate ./...",
		"go vet ./...",
		"GOOS=wasip1 GOARCH=wasm go vet ./guest/...",
		"GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm ./guest/plugin",
		"go build -o host-bin ./host",
		"./host-bin plugin.wasm",
	}
	for _, c := range commands {
		if !strings.Contains(strings.Join(strings.Fields(w.text), " "), c) {
			t.Errorf("the walk-through no longer says %q, which this test runs (or stands in for)", c)
		}
	}

	root, dir := moduleBeside(t, "app")
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append([]string{"GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off"}, env...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// go mod init and go mod edit as written; this tree's go.sum, which
	// covers every module the new one needs, stands in for go mod tidy,
	// which would need the module proxy.
	run(nil, "go", "mod", "init", "example.com/app")
	run(nil, strings.Fields(setupEdit)...)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	for name, body := range w.files {
		write(name, body)
	}
	wasip1 := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}
	run(nil, "go", "generate", "./...")
	for _, pkg := range []string{"bindings/example/app/log", "bindings/example/app/plugin", "guest/bindings/example/app/log", "guest/bindings/example/app/plugin"} {
		if _, err := os.Stat(filepath.Join(dir, pkg)); err != nil {
			t.Errorf("go generate wrote no %s, which the walk-through names: %v", pkg, err)
		}
	}
	run(nil, "go", "vet", "./...")
	run(wasip1, "go", "vet", "./guest/...")
	run(wasip1, "go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "./guest/plugin")
	run(nil, "go", "build", "-o", "host-bin", "./host")

	var stdout, stderr bytes.Buffer
	host := exec.Command(filepath.Join(dir, "host-bin"), "plugin.wasm")
	host.Dir, host.Stdout, host.Stderr = dir, &stdout, &stderr
	if err := host.Run(); err != nil {
		t.Fatalf("./host-bin plugin.wasm: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if got := stdout.String(); got != w.output {
		t.Errorf("the host prints\n%s\nthe walk-through says\n%s", got, w.output)
	}

	// The section's table of forgotten steps: each host variant, built
	// from host/main.go with one step undone, fails with the error quoted.
	const initErr = `example:app/plugin@0.1.0#greet: cabi_realloc failed: the Go runtime is not initialized (build the guest with -buildmode=c-shared and instantiate it with WithStartFunctions("_initialize")): wasm error: unreachable`
	mistakes := []struct {
		name, step, undone, want string
	}{
		{"nowasi", "wasi_snapshot_preview1.MustInstantiate(ctx, r)", "_ = wasi_snapshot_preview1.MustInstantiate", "module[wasi_snapshot_preview1] not instantiated"},
		{"noexport", "plugin.Register(ctx, r)", "error(nil)", "module[[export]example:app/plugin@0.1.0] not instantiated"},
		{"nolog", "log.Register(ctx, r, logHost{})", "error(nil)", "module[example:app/log@0.1.0] not instantiated"},
		{"noinit", `.WithStartFunctions("_initialize")`, "", initErr},
	}
	pkgs := []string{}
	for _, m := range mistakes {
		if !strings.Contains(w.files["host/main.go"], m.step) {
			t.Fatalf("host/main.go no longer has %s", m.step)
		}
		write(m.name+"/main.go", strings.Replace(w.files["host/main.go"], m.step, m.undone, 1))
		pkgs = append(pkgs, "./"+m.name)
	}
	run(nil, append([]string{"go", "build", "-o", "mistakes" + string(filepath.Separator)}, pkgs...)...)
	// And the guest built as a command (_initialize is not there to run),
	// and one that does not call SetExports.
	run(wasip1, "go", "build", "-o", "command.wasm", "./guest/plugin")
	const setExports = "func init() { plugin.SetExports(impl{}) }"
	if !strings.Contains(w.files["guest/plugin/main.go"], setExports) {
		t.Fatalf("guest/plugin/main.go no longer has %s", setExports)
	}
	write("guest/noexports/main.go", strings.Replace(w.files["guest/plugin/main.go"], setExports, "", 1))
	run(wasip1, "go", "build", "-buildmode=c-shared", "-o", "noexports.wasm", "./guest/noexports")
	type attempt struct{ bin, wasm, want string }
	hostBin := filepath.Join(dir, "host-bin")
	attempts := []attempt{
		{hostBin, "command.wasm", initErr},
		{hostBin, "noexports.wasm", "panic: example:app/plugin@0.1.0#greet: no implementation: call SetExports in init"},
	}
	for _, m := range mistakes {
		attempts = append(attempts, attempt{filepath.Join(dir, "mistakes", m.name), "plugin.wasm", m.want})
	}
	for _, a := range attempts {
		stdout.Reset()
		stderr.Reset()
		cmd := exec.Command(a.bin, a.wasm)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(stderr.String(), "\n"+a.want) && !strings.HasPrefix(stderr.String(), a.want) {
			t.Errorf("%s %s: %v\nstderr:\n%s\nwant a line starting with\n%s", filepath.Base(a.bin), a.wasm, err, stderr.String(), a.want)
		}
		if !strings.Contains(w.text, "`"+a.want+"`") {
			t.Errorf("the walk-through's table no longer quotes the error %q", a.want)
		}
	}
}

// TestWit2hostFragments compiles the Go fragments of docs/wit2host.md's
// "Implementing and registering" and "Calling what the guest exports",
// which show pieces of a host rather than whole files, so that the API
// they show cannot drift. Each becomes a program: its type and func
// declarations at the top level, its statements the body of a function
// whose parameters are the values the fragment takes as given (a
// runtime, a compiled module), each name it declares with := used once.
// The program lives, through an overlay, in the generator's tree, which
// may import the test:kitchen bindings (generator/internal) the
// fragments call.
func TestWit2hostFragments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs")
	}
	doc, err := os.ReadFile("../../docs/wit2host.md")
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/wasitls/wasitls/"
	for _, f := range []struct {
		heading string
		nth     int // of the section's go blocks
		imports []string
		params  string
	}{
		{"## Implementing and registering", 0,
			[]string{"context", "github.com/tetratelabs/wazero", mod + "cabi", mod + "bindings/wasi/io/streams"},
			"compiled wazero.CompiledModule"},
		{"## Calling what the guest exports", 0,
			[]string{"context", "github.com/tetratelabs/wazero", mod + "cabi", mod + "generator/internal/plugin/test/kitchen/plugin"},
			"ctx context.Context, r wazero.Runtime, compiled wazero.CompiledModule"},
		{"## Calling what the guest exports", 1,
			[]string{"context", mod + "runtime", mod + "runtime/component", mod + "generator/internal/calc/test/kitchen/calc"},
			"ctx context.Context, rt *runtime.Runtime, c *component.Component"},
	} {
		_, section, ok := strings.Cut(string(doc), "\n"+f.heading+"\n")
		if !ok {
			t.Fatalf("docs/wit2host.md has no heading %q", f.heading)
		}
		section, _, _ = strings.Cut(section, "\n## ")
		blocks := strings.Split(section, "```go\n")
		if len(blocks) <= f.nth+1 {
			t.Fatalf("%s: no Go block %d", f.heading, f.nth)
		}
		block, _, _ := strings.Cut(blocks[f.nth+1], "```")
		var decls, body []string
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "type ") || strings.HasPrefix(line, "func "):
				decls = append(decls, line)
			case strings.TrimSpace(line) != "":
				body = appendStatement(body, line)
			}
		}
		var src strings.Builder
		src.WriteString("package main\n\nimport (\n")
		for _, imp := range f.imports {
			src.WriteString("\t\"" + imp + "\"\n")
		}
		src.WriteString(")\n\n" + strings.Join(decls, "\n") + "\n\nfunc fragment(" + f.params + ") {\n" +
			strings.Join(body, "\n") + "\n}\n\nfunc main() {}\n")

		dir := t.TempDir()
		build := overlayBuild(t, dir, "../../generator/internal/wit2hostdoc", src.String(), filepath.Join(dir, "fragment"))
		if out, err := build.CombinedOutput(); err != nil {
			t.Errorf("docs/wit2host.md, %s, Go block %d, does not build: %v\n%s\n%s", f.heading, f.nth+1, err, out, src.String())
		}
	}
}
