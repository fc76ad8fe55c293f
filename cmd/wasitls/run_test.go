package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// wasmFile builds a guest package into a file and returns its path.
func wasmFile(t testing.TB, pkg string, buildArgs ...string) string {
	t.Helper()
	return writeWasm(t, "guest.wasm", guestbuild.MustBuild(t, pkg, buildArgs...))
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), append([]string{"run"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunMalformedComponent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "component.wasm")
	os.WriteFile(path, []byte("\x00asm\x0d\x00\x01\x00rest"), 0o644)
	code, _, stderr := runCLI(t, path)
	if code != 1 || !strings.Contains(stderr, "wasitls: "+path+": component: at offset") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

// TestRunNotWasm: a file that is not WebAssembly is named in the error,
// which says what it is instead when it can.
func TestRunNotWasm(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"notes.txt", "hello\n", "not a WebAssembly binary (no \\0asm header)"},
		{"native", "\x7fELF\x02\x01\x01\x00", "not a WebAssembly binary but a native ELF executable: build a Go guest with GOOS=wasip1 GOARCH=wasm"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, path)
		if want := "wasitls: " + path + ": runtime: " + tc.want + "\n"; code != 1 || stderr != want {
			t.Errorf("%s: code %d, stderr %q; want %q", tc.name, code, stderr, want)
		}
	}
}

func TestRunNothingToRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.wasm")
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, path)
	if code != 1 || !strings.Contains(stderr, "neither _start") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	// A Go program built with -buildmode=c-shared and no //go:wasmexport
	// exports _initialize alone.
	code, _, stderr = runCLI(t, wasmFile(t, "../../internal/readme/testdata/hello", "-buildmode=c-shared"))
	if code != 1 || !strings.Contains(stderr, "exports only _initialize") || !strings.Contains(stderr, "without -buildmode=c-shared") {
		t.Fatalf("reactor: code %d, stderr %q", code, stderr)
	}
}

func TestRunMissingImportsListed(t *testing.T) {
	code, _, stderr := runCLI(t, wasmFile(t, "../../runtime/testdata/badimports"))
	if code != 1 || !strings.Contains(stderr, "wasi:frobnicate/widgets@0.2.0#spin (no such module)") ||
		!strings.Contains(stderr, "wasi:io/poll@0.2.8#no-such-function") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestRunMissingRealloc(t *testing.T) {
	code, _, stderr := runCLI(t, wasmFile(t, "../../runtime/testdata/norealloc"))
	if code != 1 || !strings.Contains(stderr, "cabi_realloc") || !strings.Contains(stderr, "wasi:io/poll@0.2.8#poll") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestRunPolicyFlags(t *testing.T) {
	addr := testnet.Serve(t, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
		c.Close()
	}).String()
	guest := wasmFile(t, "../../runtime/testdata/echoclient")

	code, stdout, stderr := runCLI(t, "--allow-connect", addr, guest, addr, "ping")
	if code != 0 || stdout != "echo: ping\n" || stderr != "" {
		t.Fatalf("allowed: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// Without the flag the connect is denied (error code 1, access-denied),
	// and the command names the flag that would allow it.
	code, _, stderr = runCLI(t, guest, addr, "ping")
	note := "wasitls: the network policy denied connecting to " + addr + ": allow it with --allow-connect " + addr + "\n"
	if code != 1 || !strings.Contains(stderr, "start-connect: 1") || strings.Count(stderr, note) != 1 {
		t.Fatalf("denied: code %d, stderr %q", code, stderr)
	}
	// The flag after the guest file goes to the guest, with a note.
	code, _, stderr = runCLI(t, guest, "--allow-connect="+addr, addr, "ping")
	if code == 0 || !strings.Contains(stderr, "wasitls: --allow-connect="+addr+" comes after the guest file, so the guest gets it") {
		t.Fatalf("flag after the guest: code %d, stderr %q", code, stderr)
	}
	// A bad rule names its flag.
	code, _, stderr = runCLI(t, "--allow-connect", "no-port", guest, addr, "ping")
	if code != 1 || !strings.Contains(stderr, "wasitls: --allow-connect: ") || !strings.Contains(stderr, "want HOST:PORT") {
		t.Fatalf("bad rule: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--allow-listen", ":8443", guest, addr, "ping")
	if code != 1 || !strings.Contains(stderr, "wasitls: --allow-listen: ") || !strings.Contains(stderr, "write *:8443 for every address") {
		t.Fatalf("listen rule without a host: code %d, stderr %q", code, stderr)
	}
}

// TestDenialNotes: each distinct denial is noted once, and a guest that
// keeps trying new addresses gets a bounded number of notes.
func TestDenialNotes(t *testing.T) {
	var out bytes.Buffer
	note := denialNotes(&out)
	note(sockets.Denial{Op: sockets.DenyResolve, Name: "example.com"})
	note(sockets.Denial{Op: sockets.DenyResolve, Name: "example.com"})
	if got, want := out.String(), "wasitls: the network policy denied looking up \"example.com\": allow connecting to it with --allow-connect example.com:PORT\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// localhost is most often looked up by a guest that listens on it,
	// which --allow-listen (addresses only) cannot allow: the note says
	// what can. (Noted apart, outside the bound counted below.)
	var local bytes.Buffer
	denialNotes(&local)(sockets.Denial{Op: sockets.DenyResolve, Name: "localhost"})
	if got, want := local.String(), "wasitls: the network policy denied looking up \"localhost\": allow connecting to it with --allow-connect localhost:PORT; "+
		"a guest listening on localhost looks it up too: listen on 127.0.0.1:PORT or [::1]:PORT, which --allow-listen allows, or allow the lookup\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	out.Reset()
	// A wildcard rule's lookup granted no loopback address: the note
	// says so, and how to allow it.
	note(sockets.Denial{Op: sockets.DenyConnect, Addr: netip.MustParseAddrPort("127.0.0.1:443"), Name: "svc.example.com"})
	if got, want := out.String(), "wasitls: the network policy denied connecting to 127.0.0.1:443, which the lookup of \"svc.example.com\" returned: "+
		"a wildcard rule (*.DOMAIN, *) grants no loopback, link-local or unspecified address, nor an IPv6 one that embeds an IPv4 address (NAT64, SIIT, 6to4, Teredo); "+
		"allow it with --allow-connect svc.example.com:443 (that name) or --allow-connect 127.0.0.1:443 (that address)\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Nor an IPv6 spelling of an IPv4 address: the rule the note names
	// for the address allows it. (Noted apart, outside the bound counted
	// below.)
	var apart bytes.Buffer
	embedded := netip.MustParseAddrPort("[64:ff9b::a9fe:a9fe]:443")
	denialNotes(&apart)(sockets.Denial{Op: sockets.DenyConnect, Addr: embedded, Name: "svc.example.com"})
	if got, want := apart.String(), "or --allow-connect [64:ff9b::a9fe:a9fe]:443 (that address)\n"; !strings.HasSuffix(got, want) {
		t.Fatalf("got %q, want it ending %q", got, want)
	}
	var p sockets.Policy
	if err := p.AllowConnect(embedded.String()); err != nil || !p.CanConnect(embedded) {
		t.Fatalf("the rule %s the note names: %v, allows %v: %t", embedded, err, embedded, p.CanConnect(embedded))
	}
	for port := range 1000 {
		note(sockets.Denial{Op: sockets.DenyConnect, Addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(port+1))})
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != maxDenialNotes || !strings.Contains(lines[len(lines)-1], "no further denials are reported") {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestRunEnvArgsDirs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file.txt"), []byte("from the host"), 0o644)
	code, stdout, stderr := runCLI(t, "--env", "GREETING=hi", "--dir", dir+":/data:ro",
		wasmFile(t, "./testdata/envdir"), "a", "b c")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "GREETING=hi\nargs=[\"a\" \"b c\"]\nfile=from the host\nwrite refused\n"
	if stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); err == nil {
		t.Fatal("read-only directory written")
	}
}

func TestRunExitCode(t *testing.T) {
	code, stdout, _ := runCLI(t, wasmFile(t, "../../runtime/testdata/twoversions"))
	if code != 1 || stdout != "from 0.2.8\nfrom 0.2.0\n" {
		t.Fatalf("code %d, stdout %q", code, stdout)
	}
}

// TestRunReactorNote: a reactor with exports besides _initialize runs its
// _initialize, with a note that nothing calls its exports.
func TestRunReactorNote(t *testing.T) {
	var m wasmbin.Module
	empty := m.Type(nil, nil)
	m.Export("_initialize", wasmbin.ExportFunc, m.Func(empty, nil, nil))
	m.Export("add", wasmbin.ExportFunc, m.Func(empty, nil, nil))
	code, _, stderr := runCLI(t, writeWasm(t, "reactor.wasm", m.Bytes()))
	want := "wasitls: the module is a reactor: only its _initialize runs, and nothing calls its exports (add); " +
		"a command exports _start (a Go guest: package main built without -buildmode=c-shared)\n"
	if code != 0 || stderr != want {
		t.Fatalf("code %d, stderr %q; want 0 and %q", code, stderr, want)
	}
}

// TestRunStartSection runs a module with a start section with the stop
// flag: the start function, exported by the rewriter, runs before _start
// (it sets the exit code _start exits with), and there is no fallback.
func TestRunStartSection(t *testing.T) {
	var m wasmbin.Module
	exit := exitingCommand(&m)
	g := wasmbin.ULEB(uint64(m.Global(wasmbin.I32, true, wasmbin.I32Const(0))))
	m.Start(m.Func(m.Type(nil, nil), nil, wasmbin.Cat(wasmbin.I32Const(7), []byte{0x24}, g)))
	m.Export("_start", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, wasmbin.Cat([]byte{0x23}, g, []byte{0x10}, wasmbin.ULEB(uint64(exit)))))
	code, _, stderr := runCLI(t, writeWasm(t, "start.wasm", m.Bytes()))
	if code != 7 || stderr != "" {
		t.Fatalf("code %d, stderr %q; want 7 and no note", code, stderr)
	}
}

// TestRunRefusedByRewriter runs a module the stop flag's rewriter refuses
// (it exports a name the rewriter reserves) with wazero's termination
// checks instead, and says so.
func TestRunRefusedByRewriter(t *testing.T) {
	var m wasmbin.Module
	exit := exitingCommand(&m)
	m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, m.Global(wasmbin.I32, true, wasmbin.I32Const(0)))
	m.Export("_start", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, wasmbin.Cat(wasmbin.I32Const(7), []byte{0x10}, wasmbin.ULEB(uint64(exit)))))
	code, _, stderr := runCLI(t, writeWasm(t, "reserved.wasm", m.Bytes()))
	if code != 7 || !strings.Contains(stderr, "running the guest with wazero's termination checks") ||
		!strings.Contains(stderr, "already exports") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

// TestRunComponentRefusedByRewriter runs a component with a core module
// the stop flag's rewriter refuses, in a nested component, with wazero's
// termination checks instead, and says so: the C hello command with a
// nested component appended, whose core module exports a name the
// rewriter reserves.
func TestRunComponentRefusedByRewriter(t *testing.T) {
	b := cguest.Build(t, cguest.Spec{Sources: []string{"../../runtime/testdata/components/hello.c"}, Adapter: cguest.Command})
	var m wasmbin.Module
	m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, m.Global(wasmbin.I32, true, wasmbin.I32Const(0)))
	nested := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}, wasmbin.Section(1, m.Bytes()))
	path := writeWasm(t, "refused.wasm", wasmbin.Cat(b, wasmbin.Section(4, nested)))
	code, stdout, stderr := runCLI(t, path, "x")
	if code != 0 || !strings.Contains(stdout, "arg 1: x\n") ||
		!strings.Contains(stderr, "running the component with wazero's termination checks") || !strings.Contains(stderr, "already exports") {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// exitingCommand adds to m what a preview1 command needs (a memory) and
// the import of proc_exit, whose index it returns.
func exitingCommand(m *wasmbin.Module) int {
	exit := m.ImportFunc("wasi_snapshot_preview1", "proc_exit", m.Type([]byte{wasmbin.I32}, nil))
	m.Memory(1, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	return exit
}

// writeWasm writes b to a file name in a temporary directory and returns
// its path.
func writeWasm(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "run ") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
}

// TestRunComponent runs a C command component built by clang and jco new
// --wasi-command with one command, as the README shows.
func TestRunComponent(t *testing.T) {
	b := cguest.Build(t, cguest.Spec{Sources: []string{"../../runtime/testdata/components/hello.c"}, Adapter: cguest.Command})
	path := filepath.Join(t.TempDir(), "hello.wasm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "--env", "GREETING=from the CLI", path, "x", "0")
	want := "arg 0: " + path + "\narg 1: x\narg 2: 0\nGREETING=from the CLI\n"
	if code != 0 || stdout != want || stderr != "to stderr\n" {
		t.Fatalf("code %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, want, stderr)
	}
	if code, _, _ := runCLI(t, path, "3"); code != 1 {
		t.Fatalf("exit 3 through the preview1 adapter: code %d, want 1 (wasi:cli/exit 0.2 carries ok or err)", code)
	}
	// A reactor component has no command to run: the error says so and
	// where its exports are called from.
	b = cguest.Build(t, cguest.Spec{Sources: []string{"../../runtime/testdata/components/hello.c"}, Adapter: cguest.Reactor})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, path)
	if code != 1 || !strings.Contains(stderr, "component: not a command: it does not export wasi:cli/run@0.2.N (it exports nothing); a reactor's exports are called from Go") {
		t.Fatalf("reactor: code %d, stderr %q", code, stderr)
	}
}

// TestRunTruncatedWasm: a guest file cut short, a core module or a
// component, in its header or in a section, is said to be truncated, not
// a complete module, with the file's name and where it ends.
func TestRunTruncatedWasm(t *testing.T) {
	var m wasmbin.Module
	exit := exitingCommand(&m)
	m.Export("_start", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, wasmbin.Cat(wasmbin.I32Const(7), []byte{0x10}, wasmbin.ULEB(uint64(exit)))))
	module := m.Bytes()
	if code, _, stderr := runCLI(t, writeWasm(t, "whole.wasm", module)); code != 7 {
		t.Fatalf("the whole module: code %d, stderr %q; want 7", code, stderr)
	}
	component := wasmbin.Cat([]byte("\x00asm\x0d\x00\x01\x00"), []byte{0x01, 100}, module[:20])
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"module", module[:len(module)-3], fmt.Sprintf("wasm: truncated: the module ends at byte %d, inside the section at byte", len(module)-3)},
		{"module header", module[:5], "truncated: it ends after 5 of the 8 bytes of a WebAssembly header"},
		{"component", component, "component: truncated: the component ends at byte 30, inside the section at byte 8"},
	} {
		path := writeWasm(t, "cut.wasm", tc.wasm)
		code, _, stderr := runCLI(t, path)
		if code != 1 || !strings.HasPrefix(stderr, "wasitls: "+path+": ") || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "not a complete WebAssembly") {
			t.Errorf("%s: code %d, stderr %q; want the file named and %q", tc.name, code, stderr, tc.want)
		}
	}
	path := writeWasm(t, "empty.wasm", nil)
	if code, _, stderr := runCLI(t, path); code != 1 || stderr != "wasitls: "+path+": runtime: not a WebAssembly binary: it is empty\n" {
		t.Errorf("empty file: code %d, stderr %q", code, stderr)
	}
}

// A guest's exit(-1), proc_exit(0xffffffff), is its exit with code 255,
// as a POSIX parent sees it. Before, it was the code wazero gives a
// cancelled context, and "wasitls run" said "interrupted" and exited 130.
func TestRunExitMinusOne(t *testing.T) {
	hog := wasmFile(t, "../../runtime/testdata/hog")
	for _, tt := range []struct {
		arg  string
		code int
	}{{"-1", 255}, {"3", 3}, {"-268435457", 255}} { // the last is 0xefffffff, wazero's deadline code
		code, _, stderr := runCLI(t, hog, "exit", tt.arg)
		if code != tt.code || strings.Contains(stderr, "interrupted") {
			t.Errorf("exit(%s): code %d, stderr %q; want code %d", tt.arg, code, stderr, tt.code)
		}
	}
}

// TestRunDirEnvSpellings: --dir takes :ro and :rw and refuses a guest
// path holding a colon (before, "/tmp:/a:rw" preopened /tmp writable as
// "/a:rw"), and takes a host path holding colons whole when it names a
// directory (before, it could not be given); --env refuses an empty key
// (before, "=x" reached the guest).
func TestRunDirEnvSpellings(t *testing.T) {
	dir := t.TempDir()
	colons := filepath.Join(dir, "a:b:c")
	if err := os.Mkdir(colons, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arg  string
		want runtime.Dir
	}{
		{dir, runtime.Dir{Host: dir, Guest: dir}},
		{dir + ":/a", runtime.Dir{Host: dir, Guest: "/a"}},
		{dir + ":/a:ro", runtime.Dir{Host: dir, Guest: "/a", ReadOnly: true}},
		{dir + ":/a:rw", runtime.Dir{Host: dir, Guest: "/a"}},
		{dir + ":rw", runtime.Dir{Host: dir, Guest: dir}},
		{colons + ":/a", runtime.Dir{Host: colons, Guest: "/a"}},
		{colons + ":/a:ro", runtime.Dir{Host: colons, Guest: "/a", ReadOnly: true}},
	} {
		if got, err := parseDir(c.arg); err != nil || got != c.want {
			t.Errorf("parseDir(%q) = %+v, %v; want %+v", c.arg, got, err, c.want)
		}
	}
	for _, arg := range []string{dir + ":/a:rx", dir + ":/a:b", ":/a", dir + ":", dir + ":/a:ro:rw"} {
		if _, err := parseDir(arg); err == nil || !strings.Contains(err.Error(), "want HOST[:GUEST][:ro|:rw]") {
			t.Errorf("parseDir(%q): %v, want the spelling refused", arg, err)
		}
	}
	for _, kv := range []string{"=x", "=", "NOEQUALS"} {
		code, _, stderr := runCLI(t, "--env", kv, "guest.wasm")
		if code == 0 || !strings.Contains(stderr, "want KEY=VALUE") {
			t.Errorf("--env %q: exit %d, stderr %q; want it refused", kv, code, stderr)
		}
	}
}
