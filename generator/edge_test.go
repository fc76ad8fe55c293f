package generator

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"go.bytecodealliance.org/wit"

	"github.com/wasitls/wasitls/internal/cguest"
)

// loadString loads the WIT source src as a one-file package.
func loadString(t *testing.T, src string) (dir string, res *wit.Resolve) {
	t.Helper()
	dir = t.TempDir()
	witDir := filepath.Join(dir, "wit")
	if err := os.MkdirAll(witDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(witDir, "world.wit"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(witDir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, r
}

// generateBoth generates host and guest bindings of world w, both
// failing or both succeeding: the names one side refuses the other does.
func generateBoth(t *testing.T, res *wit.Resolve) (host, guest []File, err error) {
	t.Helper()
	host, herr := Generate(res, Options{World: "w", Package: "example.com/edge/host"})
	guest, gerr := Generate(res, Options{World: "w", Package: "example.com/edge/guest", Guest: true})
	if (herr == nil) != (gerr == nil) {
		t.Fatalf("host: %v, guest: %v: one side accepts what the other refuses", herr, gerr)
	}
	if herr != nil {
		return nil, nil, herr
	}
	return host, guest, nil
}

// TestRefusedWIT feeds valid WIT that the bindings cannot represent (or
// the Canonical ABI does not allow) and wants a clear error on both sides
// rather than a panic or Go that does not compile.
func TestRefusedWIT(t *testing.T) {
	for _, tc := range []struct {
		name, iface, world, want string
	}{
		{"empty record", `record r {} f: func(a: r) -> r;`, "import i;", "record r has no fields"},
		{"empty flags", `flags fl {} f: func(a: fl) -> fl;`, "import i;", "flags fl has no flags"},
		{"fixed-length list", `f: func(a: list<u32, 4>);`, "import i;", "fixed-length list"},
		{"async function", `f: async func(a: u32) -> u32;`, "import i;", "t:edge/i#[async]f: async functions are not supported"},
		{"async method", `resource r { m: async func(); }`, "export i;", "t:edge/i#[async method]r.m: async functions are not supported"},
		{"stream", `f: func(a: stream<u8>);`, "import i;", "unsupported WIT type stream"},
		{"imported and exported", `record r { a: u32 } } interface j { use i.{r}; f: func(a: r);`, "export i; import j;", "world t:edge/w both imports and exports t:edge/i: not supported (an import that uses its types imports it too)"},
		{"type exports", `record exports { a: u32 } f: func(a: exports);`, "export i;", "Go identifier Exports is both the Exports type and type exports"},
		{"type bind", `record bind { a: u32 } f: func(a: bind);`, "export i;", "Go identifier Bind is both the Bind function and type bind"},
		{"constructor and function", `resource r { constructor(); } new-r: func();`, "import i;", "Go identifier NewR is both function [constructor]r and function new-r"},
		{"exported constructor and function", `resource r { constructor(); } new-r: func();`, "export i;", "Go identifier NewR is both function [constructor]r and function new-r"},
		{"static and function", `resource r { name: static func(); } r-name: func();`, "import i;", "Go identifier RName is both function [static]r.name and function r-name"},
		{"imported function and type", `record new-r { a: u32 } resource r { constructor(); }`, "import i;", "Go identifier NewR is both type new-r and function [constructor]r"},
		{"resource method drop", `resource r { drop: func(); }`, "import i;", "methods of resource r: drop is Drop in Go"},
		{"exported resource method drop", `resource r { drop: func(); }`, "export i;", "methods of resource r: drop is Drop in Go"},
		{"resource method borrow", `resource r { %borrow: func(); }`, "import i;", "methods of resource r: borrow is Borrow in Go"},
		{"resource methods", `resource r { ip-x: func(); IP-x: func(); }`, "import i;", "methods of resource r ip-x and IP-x are both IPX in Go"},
		{"record fields", `record r { ip-x: u32, IP-x: u32 }`, "import i;", "fields of record r ip-x and IP-x are both IPX in Go"},
		{"variant cases", `variant v { ip-x, IP-x(u32) }`, "import i;", "cases of variant v ip-x and IP-x are both IPX in Go"},
		{"variant cases tag", `variant v { tag, tag-value }`, "import i;", "cases of variant v tag and tag-value are both TagValue in Go"},
		{"resource handle types", `resource r {} record r-borrow { a: u32 }`, "import i;", "Go identifier RBorrow is both type r-borrow and the borrowed handle type of r"},
		{"exported resource handle types", `resource r {} record r-of { a: u32 }`, "export i;", "Go identifier ROf is both type r-of and the handle constructor of r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package t:edge@0.1.0;\ninterface i {\n" + tc.iface + "\n}\nworld w {\n" + tc.world + "\n}\n"
			_, res := loadString(t, src)
			for _, guest := range []bool{false, true} {
				_, err := Generate(res, Options{World: "w", Package: "example.com/edge/x", Guest: guest})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("guest %v: got error %v, want one containing %q", guest, err, tc.want)
				}
			}
		})
	}
}

// edgeWIT is valid WIT nobody picked for the golden tests: Go keywords and
// predeclared identifiers as names, discriminants wider than a byte, flags
// around the word sizes, payloads of every alignment in one variant,
// nested options, results and tuples, spilled parameters and results,
// aliases of aliases, resources used across interfaces, and the results
// and error payloads whose lowering takes an unusual path.
const edgeWIT = `package t:edge@0.1.0;

interface base {
    resource r {
        constructor();
        get: func() -> u32;
    }
}

/// Go keywords, predeclared identifiers and the glue's own names.
interface %type {
    use base.{r};
    type r2 = r;
    type %string = u32;
    record %func { %range: u32, len: string, nil: bool, iota: u8, any: s8, %type: u16, error: u32 }
    enum %error { %nil, %len, ok }
    variant %any { %string(string), %func(%func), none, tag }
    flags %iota { %type, %range }
    resource %interface {
        constructor(%string: %string);
        %new: func() -> u32;
        %map: static func(%chan: u32) -> %interface;
        take: func(x: borrow<r2>, y: r2) -> r2;
        impl: func() -> u32;
        cased: func(a-b: u32, a-B: string);
    }
    %select: func(%case: u32, %default: string, ctx: u32, err: u32, mem: u32, x: u32, h: u32, inst: u32) -> %func;
    make: func(cap: u32, new: u32, len: u32, %string: %string) -> %error;
    cased: func(a-b: u32, a-B: string, IP-x: u32, ip-x: u32) -> u32;
}

/// Scalar functions whose results lower without a check, and functions
/// named like the host package's Register, Functions, Host and Bind.
/// Docs with lines that are Go comments when written as they are:
/// //go:build ignore
/// /* not closed
interface scalar {
    /// //go:noinline
    /// /* not closed
    flags f1 { a }
    /// /* not closed
    unit: func() -> result;
    unit-param: func(a: result) -> u32;
    flag-result: func() -> f1;
    flag-param: func(a: f1) -> f1;
    register: func() -> u32;
    functions: func() -> u32;
    host: func() -> u32;
    bind: func() -> u32;
    set-exports: func() -> u32;
}

/// Names the host bindings' embedded types have: cabi.Exports' methods as
/// functions (methods of Exports), cabi.GuestResource's field and methods
/// as methods of a resource (rep is RepMethod in Go), for TestEdgeWITHidden.
interface hidden {
    enter: func() -> u32;
    leave: func(a: u32) -> u32;
    refusal: func() -> u32;
    drop-guest: func() -> u32;
    resource h {
        constructor(v: u32);
        rep: func() -> u32;
        spent: func() -> bool;
        guest-resource: func() -> u32;
    }
    consume: func(x: h) -> u32;
}

/// Go names that meet when the bindings join them into their own
/// identifiers: the method c of a-b, the method b-c of a and the function
/// a-b-c; functions named like r's [resource-drop], -new and -rep.
interface joined {
    resource a-b { constructor(); c: func() -> string; }
    resource a { constructor(); b-c: func() -> string; }
    a-b-c: func() -> string;
    resource r { constructor(); }
    r-drop: func();
    r-new: func();
    r-rep: func() -> u32;
}

/// Error payloads with a member named error.
interface errors {
    record with-error { code: u32, error: string }
    variant verr { error(string), other(u32) }
    rec-err: func() -> result<u32, with-error>;
    var-err: func() -> result<u32, verr>;
}

/// Discriminants wider than a byte, flags around the word sizes, payloads
/// of every alignment in one variant.
interface wide {
    flags %f32 { FLAGS32 }
    flags f33 { FLAGS33 }
    flags %f64 { FLAGS64 }
    flags f65 { FLAGS65 }
    enum big { CASES300 }
    variant bigv { VCASES300 }
    variant mix { a(u8), b(u64), c(string), d(f32), e(f64), f }
    variant join32 { a(f32), b(u32) }
    variant join64 { a(f64), b(f32), c(u64) }
    wide-flags: func(a: %f32, b: f33, c: %f64, d: f65) -> tuple<%f32, f33, %f64, f65>;
    use-enum: func(b: big, v: bigv) -> tuple<big, bigv>;
    use-mix: func(m: mix, f: join32, g: join64) -> tuple<mix, join32, join64>;
}

interface types {
    record r { a: u32 }
    resource res { constructor(); }
}

/// Helper names built from Go names that meet: a type %string and string,
/// list-options and list<options>, the types of two interfaces named types.
interface mangled {
    use types.{r, res};
    use t:other/types@0.1.0.{r as other-r, res as other-res};
    type %string = u32;
    record options { a: u8 }
    record list-options { b: string }
    f: func(a: list<%string>, b: list<string>) -> list<%string>;
    g: func(a: list<options>, b: list-options) -> tuple<list<options>, list-options>;
    h: func(x: r, y: other-r, z: borrow<res>, w: borrow<other-res>) -> tuple<r, other-r>;
    k: func(x: list<borrow<res>>, y: list<borrow<other-res>>, z: option<res>, w: option<other-res>) -> tuple<list<res>, list<other-res>>;
}

/// Parameters named like the locals, results and imported packages of the
/// bodies that use them.
interface params {
    use types.{r};
    record q { x: list<r> }
    f: func(cabi: list<r>, context: q, fmt: string, errors: list<string>, api: option<r>, wazero: u32, math: f64, unsafe: string, runtime: list<q>, strconv: string, witval: option<string>, types: r, r0: string, x: u32, arg-x: u32, c: string, s: string, call: string, v: string, rp: string, pp: string, err: string) -> result<list<r>, string>;
    resource res {
        m: func(r: string, r0: list<r>, x: u32, arg-x: string, types: r) -> list<r>;
    }
}

/// Echoes of edge values, for TestEdgeWITRoundTrip.
interface echo {
    use wide.{%f32, f33, %f64, f65, big, bigv, mix, join32, join64};
    use nested.{item};
    e-big: func(b: big, v: bigv) -> tuple<big, bigv>;
    e-mix: func(m: mix, a: join32, b: join64) -> tuple<mix, join32, join64>;
    e-flags: func(a: %f32, b: f33, c: %f64, d: f65) -> tuple<%f32, f33, %f64, f65>;
    e-opt: func(a: option<option<u32>>, b: option<option<string>>) -> tuple<option<option<u32>>, option<option<string>>>;
    e-tt: func(a: tuple<tuple<u8, u64>, tuple<string, tuple<f32>>>) -> tuple<tuple<u8, u64>, tuple<string, tuple<f32>>>;
    e-res: func(a: result, b: result<u32>, c: result<_, f32>, d: result<f64, u8>) -> tuple<result, result<u32>, result<_, f32>, result<f64, u8>>;
    e-many: func(a1: u8, a2: u64, a3: f32, a4: f64, a5: string, a6: s8, a7: u16, a8: s64, a9: char, a10: bool, a11: mix, a12: u32, a13: u32, a14: u32, a15: u32, a16: u32, a17: u32) -> tuple<u8, u64, f32, f64, string, s8, u16, s64, char, bool, mix, u32>;
    e-lol: func(a: list<list<item>>, b: list<char>, c: list<list<u8>>) -> tuple<list<list<item>>, list<char>, list<list<u8>>>;
    use base.{r};
    e-spill: func(a: borrow<r>, b: r, c: list<r>, d: option<r>, n1: u64, n2: u64, n3: u64, n4: u64, n5: u64, n6: u64, n7: u64, n8: u64, n9: u64, n10: u64, n11: u64, n12: u64, n13: u64) -> tuple<u32, u32, u32, u32, u64>;
}

/// Nesting, spilling, aliases, resources from another interface.
interface nested {
    use base.{r};
    type a1 = u32;
    type a2 = a1;
    record item { name: string, tags: list<string> }
    res1: func() -> result<u32>;
    res2: func() -> result<_, u32>;
    res3: func() -> result<string, u64>;
    res4: func(a: result, b: result<u32>, c: result<_, f32>, d: result<f64, u8>) -> tuple<result, result<u32>, result<_, f32>>;
    opt: func(a: option<option<u32>>, b: option<option<string>>) -> option<option<u32>>;
    tt: func(a: tuple<tuple<u8, u64>, tuple<string, tuple<f32>>>) -> tuple<tuple<u8, u64>, tuple<string, tuple<f32>>>;
    lol: func(a: list<list<item>>, b: list<char>, c: list<u8>, d: list<list<u8>>) -> list<list<string>>;
    al: func(a: a2) -> a2;
    many: func(a1: u32, a2: u64, a3: f32, a4: f64, a5: string, a6: u8, a7: u32, a8: u32, a9: u32, a10: u32, a11: u32, a12: u32, a13: u32, a14: u32, a15: u32, a16: u32, a17: u32) -> tuple<u32, string>;
    lists-of-r: func(x: list<borrow<r>>) -> list<r>;
    spilled-r: func(a: borrow<r>, b: r, c: list<r>, d: option<r>, n1: u64, n2: u64, n3: u64, n4: u64, n5: u64, n6: u64, n7: u64, n8: u64, n9: u64, n10: u64, n11: u64, n12: u64, n13: u64) -> tuple<r, list<r>>;
}
`

// expandEdge fills edgeWIT's generated label lists.
func expandEdge() string {
	labels := func(prefix string, n int, payload func(int) string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(prefix + strconv.Itoa(i) + payload(i))
		}
		return b.String()
	}
	none := func(int) string { return "" }
	r := strings.NewReplacer(
		"VCASES300", labels("c", 300, func(i int) string {
			if i%3 == 0 {
				return "(u8)"
			}
			return ""
		}),
		"CASES300", labels("c", 300, none),
		"FLAGS32", labels("b", 32, none), "FLAGS33", labels("b", 33, none),
		"FLAGS64", labels("b", 64, none), "FLAGS65", labels("b", 65, none),
	)
	return r.Replace(edgeWIT)
}

// TestEdgeWITBuildsAndVets generates host and guest bindings of edgeWIT,
// imported and exported, into a scratch module, and builds and vets them
// (the guest for wasip1).
func TestEdgeWITBuildsAndVets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module; skipped with -short")
	}
	for _, side := range []string{"import", "export"} {
		t.Run(side, func(t *testing.T) {
			dir := edgeModule(t, edgeWorld(side))
			goCmd(t, dir, false, "vet", "./host/...")
			goCmd(t, dir, true, "vet", "./guest/...")
		})
	}
}

// edgeModule generates host and guest bindings of the WIT source src's
// world w into dir/host and dir/guest of a scratch module example.com/edge,
// and returns dir.
func edgeModule(t *testing.T, src string) string {
	t.Helper()
	dir, res := loadString(t, src)
	host, guest, err := generateBoth(t, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "host"), host); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "guest"), guest); err != nil {
		t.Fatal(err)
	}
	scratchModule(t, dir, "example.com/edge")
	return dir
}

// scratchModule makes dir the module named module, requiring this one.
func scratchModule(t *testing.T, dir, module string) {
	t.Helper()
	root := repoRoot(t)
	goMod := "module " + module + "\n\ngo 1.26\n\nrequire " + modulePath + " v0.0.0\n\nreplace " + modulePath + " => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go command in the scratch module dir, for wasip1 when
// guest, and returns its output.
func goCmd(t *testing.T, dir string, guest bool, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if guest {
		cmd.Env = append(cmd.Env, "GOOS=wasip1", "GOARCH=wasm")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s (guest %v): %v\n%s", strings.Join(args, " "), guest, err, out)
	}
	return string(out)
}

// TestEdgeWITCoreSignatures checks the flattening of edgeWIT (the join of
// variant payloads, flags words, spilled parameters, return areas) against
// wasm-tools: the core signatures of a dummy module jco embeds for the
// world must be those the generated glue declares, for every function
// imported and exported.
func TestEdgeWITCoreSignatures(t *testing.T) {
	tools := cguest.Require(t)
	for _, side := range []string{"import", "export"} {
		t.Run(side, func(t *testing.T) {
			src := edgeWorld(side)
			dir, res := loadString(t, src)
			dummy := filepath.Join(dir, "dummy.wasm")
			api := filepath.Join(filepath.Dir(tools.Jco), "api.js")
			cmd := exec.Command(tools.Node, "--input-type=module", "-e", dummyScript, api, filepath.Join(dir, "wit", "world.wit"), "w", dummy)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("jco embed --dummy: %v\n%s", err, out)
			}
			want := coreSignatures(t, dummy)
			w, err := FindWorld(res, "w")
			if err != nil {
				t.Fatal(err)
			}
			m, err := newModel(w, "example.com/edge")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, i := range m.Ifaces {
				for _, f := range i.Funcs {
					var key string
					var params, results []Core
					if i.Exported {
						key = "export " + i.ModuleName + " " + f.WITName
						params, results = exportCore(f)
					} else {
						key = "import " + i.ModuleName + " " + f.WITName
						params, _ = flatParams(f)
						var retptr bool
						results, retptr = flatResults(f)
						if retptr {
							params = append(params, I32)
						}
					}
					got := coreString(params) + " -> " + coreString(results)
					w, ok := want[key]
					if !ok {
						t.Errorf("%s: not in the dummy module", key)
						continue
					}
					n++
					if got != w {
						t.Errorf("%s: generated %s, wasm-tools %s", key, got, w)
					}
				}
			}
			if n != 71 {
				t.Errorf("compared %d functions, want the 71 of edgeWIT", n)
			}
		})
	}
}

// edgeWorld is edgeWIT with a world importing or exporting its interfaces.
func edgeWorld(side string) string {
	var world strings.Builder
	for _, i := range []string{"%type", "scalar", "hidden", "joined", "errors", "wide", "mangled", "params", "nested", "echo"} {
		world.WriteString("    " + side + " " + i + ";\n")
	}
	return expandEdge() + "\nworld w {\n" + world.String() + "}\n" + edgeOther
}

// edgeOther is the second package edgeWIT uses.
const edgeOther = `
package t:other@0.1.0 {
    interface types {
        record r { b: string }
        resource res { constructor(); }
    }
}
`

// dummyScript is `jco embed --dummy` through jco's API: a core module
// with the imports and exports of the world, by wasm-tools.
const dummyScript = `
import { readFile, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [api, wit, world, out] = process.argv.slice(1);
const { componentEmbed } = await import(pathToFileURL(api).href);
await writeFile(out, await componentEmbed({ dummy: true, witSource: await readFile(wit, "utf8"), world }));
`

// coreSignatures reads the functions of a dummy module, named "import
// ns:pkg/iface name" and "export ns:pkg/iface name" (the module names
// follow wasm-tools' cm32p2 scheme: "cm32p2|ns:pkg/iface@0.1" and
// "cm32p2|ns:pkg/iface@0.1|name").
func coreSignatures(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.CompileModule(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	iface := func(s string) string { // "ns:pkg/iface@0.1" → "ns:pkg/iface"
		s, _, _ = strings.Cut(s, "@")
		return s
	}
	sig := func(f api.FunctionDefinition) string {
		cores := func(vs []api.ValueType) string {
			var out []Core
			for _, v := range vs {
				out = append(out, map[api.ValueType]Core{api.ValueTypeI32: I32, api.ValueTypeI64: I64, api.ValueTypeF32: CF32, api.ValueTypeF64: CF64}[v])
			}
			return coreString(out)
		}
		return cores(f.ParamTypes()) + " -> " + cores(f.ResultTypes())
	}
	out := map[string]string{}
	for _, f := range mod.ImportedFunctions() {
		m, name, _ := f.Import()
		if rest, ok := strings.CutPrefix(m, "cm32p2|"); ok && !strings.HasPrefix(rest, "_ex_") {
			out["import "+iface(rest)+" "+name] = sig(f)
		}
	}
	for name, f := range mod.ExportedFunctions() {
		parts := strings.Split(name, "|")
		if len(parts) == 3 && parts[0] == "cm32p2" && !strings.HasSuffix(parts[2], "_post") {
			out["export "+iface(parts[1])+" "+parts[2]] = sig(f)
		}
	}
	return out
}

func coreString(cs []Core) string {
	var s []string
	for _, c := range cs {
		s = append(s, map[Core]string{I32: "i32", I64: "i64", CF32: "f32", CF64: "f64"}[c])
	}
	return "(" + strings.Join(s, " ") + ")"
}

// TestEdgeWITRoundTrip builds a wasip1 guest calling edgeWIT's echo through
// the generated guest bindings against a host serving it through the
// generated host bindings: the two sides' lifting and lowering, written
// separately, must agree on 300-case enums and variants, flags of 32 to
// 65 flags, variants whose payloads join, nested options, results and
// tuples, spilled parameters and lists of lists of records.
func TestEdgeWITRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a guest and a host; skipped with -short")
	}
	edgeRoundTrip(t, "import", edgeGuest, edgeHost)
}

// edgeRoundTrip generates the bindings of edgeWIT with a world that
// imports or exports (side) echo, builds guestProg on the guest bindings
// for wasip1 (a reactor when echo is exported), and runs hostProg on the
// host bindings with it: what they print must be ok alone.
func edgeRoundTrip(t *testing.T, side, guestProg, hostProg string) {
	t.Helper()
	edgeRoundTripOf(t, side, "echo", guestProg, hostProg)
}

// edgeRoundTripOf is edgeRoundTrip for the interface iface of edgeWIT.
func edgeRoundTripOf(t *testing.T, side, iface, guestProg, hostProg string) {
	t.Helper()
	dir := edgeModule(t, expandEdge()+"\nworld w {\n    "+side+" "+iface+";\n}\n"+edgeOther)
	for name, src := range map[string]string{"guestprog/main.go": guestProg, "hostprog/main.go": hostProg} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mode := "-buildmode=exe"
	if side == "export" {
		mode = "-buildmode=c-shared" // a reactor
	}
	goCmd(t, dir, true, "build", mode, "-o", "guest.wasm", "./guestprog")
	out := goCmd(t, dir, false, "run", "./hostprog", "guest.wasm")
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("round trip:\n%s", out)
	}
}

// edgeGuest calls every function of echo with edge values and checks
// what comes back.
const edgeGuest = `//go:build wasip1

package main

import (
	"fmt"
	"math"
	"os"
	"reflect"

	base "example.com/edge/guest/t/edge/base"
	"example.com/edge/guest/t/edge/echo"
	"example.com/edge/guest/t/edge/nested"
	"example.com/edge/guest/t/edge/wide"
	"github.com/wasitls/wasitls/cabi/witval"
)

var failures int

func deq(what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		failures++
		fmt.Printf("FAIL %s: got %+v, want %+v\n", what, got, want)
	}
}

func main() {
	for _, c := range []struct {
		b wide.Big
		v wide.Bigv
	}{{0, wide.BigvC0(0)}, {255, wide.BigvC255(7)}, {256, wide.BigvC256()}, {299, wide.BigvC297(255)}, {298, wide.BigvC299()}} {
		deq("e-big", echo.EBig(c.b, c.v), witval.Tuple2[wide.Big, wide.Bigv]{F0: c.b, F1: c.v})
	}
	mixes := []wide.Mix{wide.MixA(255), wide.MixB(math.MaxUint64), wide.MixC("mïx"), wide.MixD(-1.5), wide.MixE(math.MaxFloat64), wide.MixF()}
	j32 := []wide.Join32{wide.Join32A(3.25), wide.Join32B(math.MaxUint32)}
	j64 := []wide.Join64{wide.Join64A(-2.5), wide.Join64B(1.25), wide.Join64C(1<<63 + 5)}
	for i, m := range mixes {
		a, b := j32[i%len(j32)], j64[i%len(j64)]
		deq("e-mix", echo.EMix(m, a, b), witval.Tuple3[wide.Mix, wide.Join32, wide.Join64]{F0: m, F1: a, F2: b})
	}
	f65 := wide.F65{0x80000001, 0xffffffff, 1}
	deq("e-flags", echo.EFlags(1<<31|1, 1<<32|1, 1<<63|1, f65), witval.Tuple4[wide.F32, wide.F33, wide.F64, wide.F65]{F0: 1<<31 | 1, F1: 1<<32 | 1, F2: 1<<63 | 1, F3: f65})
	type ou = witval.Option[witval.Option[uint32]]
	type os_ = witval.Option[witval.Option[string]]
	us := []ou{witval.None[witval.Option[uint32]](), witval.Some(witval.None[uint32]()), witval.Some(witval.Some[uint32](0)), witval.Some(witval.Some[uint32](math.MaxUint32))}
	ss := []os_{witval.None[witval.Option[string]](), witval.Some(witval.None[string]()), witval.Some(witval.Some("")), witval.Some(witval.Some("x😀"))}
	for i := range us {
		for j := range ss {
			deq("e-opt", echo.EOpt(us[i], ss[j]), witval.Tuple2[ou, os_]{F0: us[i], F1: ss[j]})
		}
	}
	tt := witval.Tuple2[witval.Tuple2[uint8, uint64], witval.Tuple2[string, witval.Tuple1[float32]]]{
		F0: witval.Tuple2[uint8, uint64]{F0: 255, F1: math.MaxUint64},
		F1: witval.Tuple2[string, witval.Tuple1[float32]]{F0: "tt", F1: witval.Tuple1[float32]{F0: -0.5}},
	}
	deq("e-tt", echo.ETt(tt), tt)
	type u = witval.Unit
	for _, ok := range []bool{true, false} {
		a, b, c, d := witval.Err[u, u](u{}), witval.Err[uint32, u](u{}), witval.Err[u, float32](1.5), witval.Err[float64, uint8](200)
		if ok {
			a, b, c, d = witval.OK[u, u](u{}), witval.OK[uint32, u](7), witval.OK[u, float32](u{}), witval.OK[float64, uint8](math.SmallestNonzeroFloat64)
		}
		deq("e-res", echo.ERes(a, b, c, d), witval.Tuple4[witval.Result[u, u], witval.Result[uint32, u], witval.Result[u, float32], witval.Result[float64, uint8]]{F0: a, F1: b, F2: c, F3: d})
	}
	for _, m := range mixes {
		deq("e-many", echo.EMany(255, math.MaxUint64, -1.25, 1e300, "many", -128, 65535, math.MinInt64, '😀', true, m, 12, 13, 14, 15, 16, 17),
			witval.Tuple12[uint8, uint64, float32, float64, string, int8, uint16, int64, rune, bool, wide.Mix, uint32]{
				F0: 255, F1: math.MaxUint64, F2: -1.25, F3: 1e300, F4: "many", F5: -128, F6: 65535, F7: math.MinInt64, F8: '😀', F9: true, F10: m, F11: 17})
	}
	items := [][]nested.Item{{{Name: "a", Tags: []string{"x", "", "yz"}}, {Name: "", Tags: nil}}, nil, {{Name: "ü", Tags: []string{"😀"}}}}
	chars := []rune{'a', 0xD7FF, 0xE000, 0x10FFFF, '😀'}
	bytes := [][]byte{{0, 255}, nil, {1}}
	deq("e-lol", echo.ELol(items, chars, bytes), witval.Tuple3[[][]nested.Item, []rune, [][]byte]{F0: items, F1: chars, F2: bytes})
	// Resources in spilled parameters: a borrowed, the others moved.
	a, b, c1, c2, d := base.NewR(), base.NewR(), base.NewR(), base.NewR(), base.NewR()
	want := witval.Tuple5[uint32, uint32, uint32, uint32, uint64]{F0: a.Get(), F1: b.Get(), F2: c1.Get() + c2.Get(), F3: d.Get(), F4: 91}
	deq("e-spill", echo.ESpill(a.Borrow(), b, []base.R{c1, c2}, witval.Some(d), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), want)
	deq("e-spill none", echo.ESpill(a.Borrow(), base.NewR(), nil, witval.None[base.R](), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13).F3, uint32(0))
	a.Drop()
	if failures > 0 {
		fmt.Printf("%d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("ok")
}
`

// edgeHost serves echo, returning every argument, and runs the guest.
const edgeHost = `package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	base "example.com/edge/host/t/edge/base"
	"example.com/edge/host/t/edge/echo"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wasitls/wasitls/cabi"
)

type impl struct{}

// res is the host's r: its id, counted live until dropped.
type res struct{ id uint32 }

var ids, live uint32

func newRes() *res {
	ids++
	live++
	return &res{id: ids}
}

func (r *res) Get(context.Context) uint32 { return r.id }
func (r *res) Drop()                      { live-- }

func (impl) NewR(context.Context) base.R { return newRes() }

// ESpill reads every resource, drops those moved to it and sums the rest.
func (impl) ESpill(ctx context.Context, a, b echo.R, c []echo.R, d cabi.Option[echo.R], n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, n12, n13 uint64) cabi.Tuple5[uint32, uint32, uint32, uint32, uint64] {
	v := cabi.Tuple5[uint32, uint32, uint32, uint32, uint64]{F0: a.Get(ctx), F1: b.Get(ctx), F4: n1 + n2 + n3 + n4 + n5 + n6 + n7 + n8 + n9 + n10 + n11 + n12 + n13}
	b.Drop()
	for _, r := range c {
		v.F2 += r.Get(ctx)
		r.Drop()
	}
	if r, ok := d.Get(); ok {
		v.F3 = r.Get(ctx)
		r.Drop()
	}
	return v
}

func (impl) EBig(_ context.Context, b echo.Big, v echo.Bigv) cabi.Tuple2[echo.Big, echo.Bigv] {
	return cabi.Tuple2[echo.Big, echo.Bigv]{F0: b, F1: v}
}

func (impl) EMix(_ context.Context, m echo.Mix, a echo.Join32, b echo.Join64) cabi.Tuple3[echo.Mix, echo.Join32, echo.Join64] {
	return cabi.Tuple3[echo.Mix, echo.Join32, echo.Join64]{F0: m, F1: a, F2: b}
}

func (impl) EFlags(_ context.Context, a echo.F32, b echo.F33, c echo.F64, d echo.F65) cabi.Tuple4[echo.F32, echo.F33, echo.F64, echo.F65] {
	return cabi.Tuple4[echo.F32, echo.F33, echo.F64, echo.F65]{F0: a, F1: b, F2: c, F3: d}
}

type ou = cabi.Option[cabi.Option[uint32]]
type os_ = cabi.Option[cabi.Option[string]]

func (impl) EOpt(_ context.Context, a ou, b os_) cabi.Tuple2[ou, os_] {
	return cabi.Tuple2[ou, os_]{F0: a, F1: b}
}

type tt = cabi.Tuple2[cabi.Tuple2[uint8, uint64], cabi.Tuple2[string, cabi.Tuple1[float32]]]

func (impl) ETt(_ context.Context, a tt) tt { return a }

type u = cabi.Unit

func (impl) ERes(_ context.Context, a cabi.Result[u, u], b cabi.Result[uint32, u], c cabi.Result[u, float32], d cabi.Result[float64, uint8]) cabi.Tuple4[cabi.Result[u, u], cabi.Result[uint32, u], cabi.Result[u, float32], cabi.Result[float64, uint8]] {
	return cabi.Tuple4[cabi.Result[u, u], cabi.Result[uint32, u], cabi.Result[u, float32], cabi.Result[float64, uint8]]{F0: a, F1: b, F2: c, F3: d}
}

func (impl) EMany(_ context.Context, a1 uint8, a2 uint64, a3 float32, a4 float64, a5 string, a6 int8, a7 uint16, a8 int64, a9 rune, a10 bool, a11 echo.Mix, a12, a13, a14, a15, a16, a17 uint32) cabi.Tuple12[uint8, uint64, float32, float64, string, int8, uint16, int64, rune, bool, echo.Mix, uint32] {
	if a12 != 12 || a13 != 13 || a14 != 14 || a15 != 15 || a16 != 16 {
		panic(fmt.Sprintf("e-many: a12..a16 = %d %d %d %d %d", a12, a13, a14, a15, a16))
	}
	return cabi.Tuple12[uint8, uint64, float32, float64, string, int8, uint16, int64, rune, bool, echo.Mix, uint32]{F0: a1, F1: a2, F2: a3, F3: a4, F4: a5, F5: a6, F6: a7, F7: a8, F8: a9, F9: a10, F10: a11, F11: a17}
}

func (impl) ELol(_ context.Context, a [][]echo.Item, b []rune, c [][]byte) cabi.Tuple3[[][]echo.Item, []rune, [][]byte] {
	return cabi.Tuple3[[][]echo.Item, []rune, [][]byte]{F0: a, F1: b, F2: c}
}

func main() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := echo.Register(ctx, r, impl{}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := base.Register(ctx, r, impl{}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	wasm, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	_, err = r.InstantiateModule(ctx, wasm2(ctx, r, wasm), wazero.NewModuleConfig().WithStdout(os.Stdout).WithStderr(os.Stdout))
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		fmt.Println(err)
		os.Exit(1)
	}
	if n := inst.Table().Len(); n != 0 {
		fmt.Printf("%d handles left\n", n)
	}
	if live != 0 {
		fmt.Printf("%d resources live\n", live)
	}
}

func wasm2(ctx context.Context, r wazero.Runtime, wasm []byte) wazero.CompiledModule {
	m, err := r.CompileModule(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	return m
}
`

// TestEdgeWITRoundTripExports is TestEdgeWITRoundTrip the other way: the
// host calls echo exported by a wasip1 reactor on the generated guest
// bindings through the generated callers, and checks every echo.
func TestEdgeWITRoundTripExports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a guest and a host; skipped with -short")
	}
	edgeRoundTrip(t, "export", edgeGuestExports, edgeHostCaller)
}

// edgeGuestExports implements echo, returning every argument.
const edgeGuestExports = `//go:build wasip1

package main

import (
	"fmt"

	"example.com/edge/guest/t/edge/echo"
	"github.com/wasitls/wasitls/cabi/witval"
)

type impl struct{}

func (impl) EBig(b echo.Big, v echo.Bigv) witval.Tuple2[echo.Big, echo.Bigv] {
	return witval.Tuple2[echo.Big, echo.Bigv]{F0: b, F1: v}
}

func (impl) EMix(m echo.Mix, a echo.Join32, b echo.Join64) witval.Tuple3[echo.Mix, echo.Join32, echo.Join64] {
	return witval.Tuple3[echo.Mix, echo.Join32, echo.Join64]{F0: m, F1: a, F2: b}
}

func (impl) EFlags(a echo.F32, b echo.F33, c echo.F64, d echo.F65) witval.Tuple4[echo.F32, echo.F33, echo.F64, echo.F65] {
	return witval.Tuple4[echo.F32, echo.F33, echo.F64, echo.F65]{F0: a, F1: b, F2: c, F3: d}
}

type ou = witval.Option[witval.Option[uint32]]
type os_ = witval.Option[witval.Option[string]]

func (impl) EOpt(a ou, b os_) witval.Tuple2[ou, os_] { return witval.Tuple2[ou, os_]{F0: a, F1: b} }

type tt = witval.Tuple2[witval.Tuple2[uint8, uint64], witval.Tuple2[string, witval.Tuple1[float32]]]

func (impl) ETt(a tt) tt { return a }

type u = witval.Unit

func (impl) ERes(a witval.Result[u, u], b witval.Result[uint32, u], c witval.Result[u, float32], d witval.Result[float64, uint8]) witval.Tuple4[witval.Result[u, u], witval.Result[uint32, u], witval.Result[u, float32], witval.Result[float64, uint8]] {
	return witval.Tuple4[witval.Result[u, u], witval.Result[uint32, u], witval.Result[u, float32], witval.Result[float64, uint8]]{F0: a, F1: b, F2: c, F3: d}
}

func (impl) EMany(a1 uint8, a2 uint64, a3 float32, a4 float64, a5 string, a6 int8, a7 uint16, a8 int64, a9 rune, a10 bool, a11 echo.Mix, a12, a13, a14, a15, a16, a17 uint32) witval.Tuple12[uint8, uint64, float32, float64, string, int8, uint16, int64, rune, bool, echo.Mix, uint32] {
	if a12 != 12 || a13 != 13 || a14 != 14 || a15 != 15 || a16 != 16 {
		panic(fmt.Sprintf("e-many: a12..a16 = %d %d %d %d %d", a12, a13, a14, a15, a16))
	}
	return witval.Tuple12[uint8, uint64, float32, float64, string, int8, uint16, int64, rune, bool, echo.Mix, uint32]{F0: a1, F1: a2, F2: a3, F3: a4, F4: a5, F5: a6, F6: a7, F7: a8, F8: a9, F9: a10, F10: a11, F11: a17}
}

func (impl) ELol(a [][]echo.Item, b []rune, c [][]byte) witval.Tuple3[[][]echo.Item, []rune, [][]byte] {
	return witval.Tuple3[[][]echo.Item, []rune, [][]byte]{F0: a, F1: b, F2: c}
}

// ESpill reads every resource, drops those moved to it and sums the rest.
func (impl) ESpill(a echo.RBorrow, b echo.R, c []echo.R, d witval.Option[echo.R], n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, n12, n13 uint64) witval.Tuple5[uint32, uint32, uint32, uint32, uint64] {
	v := witval.Tuple5[uint32, uint32, uint32, uint32, uint64]{F0: a.Get(), F1: b.Get(), F4: n1 + n2 + n3 + n4 + n5 + n6 + n7 + n8 + n9 + n10 + n11 + n12 + n13}
	b.Drop()
	for _, r := range c {
		v.F2 += r.Get()
		r.Drop()
	}
	if r, ok := d.Get(); ok {
		v.F3 = r.Get()
		r.Drop()
	}
	return v
}

func init() { echo.SetExports(impl{}) }

func main() {}
`

// edgeHostCaller calls echo in the guest with edge values.
const edgeHostCaller = `package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"

	base "example.com/edge/host/t/edge/base"
	"example.com/edge/host/t/edge/echo"
	"example.com/edge/host/t/edge/nested"
	"example.com/edge/host/t/edge/wide"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasitls/wasitls/cabi"
)

var failures int

// res is the host's r: its id, counted live until dropped.
type res struct{ id uint32 }

var ids, live uint32

func newRes() *res {
	ids++
	live++
	return &res{id: ids}
}

func (r *res) Get(context.Context) uint32 { return r.id }
func (r *res) Drop()                      { live-- }

type baseHost struct{}

func (baseHost) NewR(context.Context) base.R { return newRes() }

func deq(what string, got any, err error, want any) {
	if err != nil {
		failures++
		fmt.Printf("FAIL %s: %v\n", what, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		failures++
		fmt.Printf("FAIL %s: got %+v, want %+v\n", what, got, want)
	}
}

func main() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := base.Register(ctx, r, baseHost{}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	wasm, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize").WithStdout(os.Stdout).WithStderr(os.Stdout))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	x, err := echo.Bind(inst, mod, "")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, c := range []struct {
		b wide.Big
		v wide.Bigv
	}{{0, wide.BigvC0(0)}, {255, wide.BigvC255(7)}, {256, wide.BigvC256()}, {299, wide.BigvC297(255)}, {298, wide.BigvC299()}} {
		got, err := x.EBig(ctx, c.b, c.v)
		deq("e-big", got, err, cabi.Tuple2[wide.Big, wide.Bigv]{F0: c.b, F1: c.v})
	}
	mixes := []wide.Mix{wide.MixA(255), wide.MixB(math.MaxUint64), wide.MixC("mïx"), wide.MixD(-1.5), wide.MixE(math.MaxFloat64), wide.MixF()}
	j32 := []wide.Join32{wide.Join32A(3.25), wide.Join32B(math.MaxUint32)}
	j64 := []wide.Join64{wide.Join64A(-2.5), wide.Join64B(1.25), wide.Join64C(1<<63 + 5)}
	for i, m := range mixes {
		a, b := j32[i%len(j32)], j64[i%len(j64)]
		got, err := x.EMix(ctx, m, a, b)
		deq("e-mix", got, err, cabi.Tuple3[wide.Mix, wide.Join32, wide.Join64]{F0: m, F1: a, F2: b})
	}
	f65 := wide.F65{0x80000001, 0xffffffff, 1}
	gotF, err := x.EFlags(ctx, 1<<31|1, 1<<32|1, 1<<63|1, f65)
	deq("e-flags", gotF, err, cabi.Tuple4[wide.F32, wide.F33, wide.F64, wide.F65]{F0: 1<<31 | 1, F1: 1<<32 | 1, F2: 1<<63 | 1, F3: f65})
	type ou = cabi.Option[cabi.Option[uint32]]
	type os_ = cabi.Option[cabi.Option[string]]
	us := []ou{cabi.None[cabi.Option[uint32]](), cabi.Some(cabi.None[uint32]()), cabi.Some(cabi.Some[uint32](0)), cabi.Some(cabi.Some[uint32](math.MaxUint32))}
	ss := []os_{cabi.None[cabi.Option[string]](), cabi.Some(cabi.None[string]()), cabi.Some(cabi.Some("")), cabi.Some(cabi.Some("x😀"))}
	for i := range us {
		for j := range ss {
			got, err := x.EOpt(ctx, us[i], ss[j])
			deq("e-opt", got, err, cabi.Tuple2[ou, os_]{F0: us[i], F1: ss[j]})
		}
	}
	tt := cabi.Tuple2[cabi.Tuple2[uint8, uint64], cabi.Tuple2[string, cabi.Tuple1[float32]]]{
		F0: cabi.Tuple2[uint8, uint64]{F0: 255, F1: math.MaxUint64},
		F1: cabi.Tuple2[string, cabi.Tuple1[float32]]{F0: "tt", F1: cabi.Tuple1[float32]{F0: -0.5}},
	}
	gotT, err := x.ETt(ctx, tt)
	deq("e-tt", gotT, err, tt)
	type u = cabi.Unit
	for _, ok := range []bool{true, false} {
		a, b, c, d := cabi.Err[u, u](u{}), cabi.Err[uint32, u](u{}), cabi.Err[u, float32](1.5), cabi.Err[float64, uint8](200)
		if ok {
			a, b, c, d = cabi.OK[u, u](u{}), cabi.OK[uint32, u](7), cabi.OK[u, float32](u{}), cabi.OK[float64, uint8](math.SmallestNonzeroFloat64)
		}
		got, err := x.ERes(ctx, a, b, c, d)
		deq("e-res", got, err, cabi.Tuple4[cabi.Result[u, u], cabi.Result[uint32, u], cabi.Result[u, float32], cabi.Result[float64, uint8]]{F0: a, F1: b, F2: c, F3: d})
	}
	for _, m := range mixes {
		got, err := x.EMany(ctx, 255, math.MaxUint64, -1.25, 1e300, "many", -128, 65535, math.MinInt64, '😀', true, m, 12, 13, 14, 15, 16, 17)
		deq("e-many", got, err, cabi.Tuple12[uint8, uint64, float32, float64, string, int8, uint16, int64, rune, bool, wide.Mix, uint32]{
			F0: 255, F1: math.MaxUint64, F2: -1.25, F3: 1e300, F4: "many", F5: -128, F6: 65535, F7: math.MinInt64, F8: '😀', F9: true, F10: m, F11: 17})
	}
	items := [][]nested.Item{{{Name: "a", Tags: []string{"x", "", "yz"}}, {Name: "", Tags: nil}}, nil, {{Name: "ü", Tags: []string{"😀"}}}}
	chars := []rune{'a', 0xD7FF, 0xE000, 0x10FFFF, '😀'}
	bytes := [][]byte{{0, 255}, nil, {1}}
	gotL, err := x.ELol(ctx, items, chars, bytes)
	// Compared as printed: an empty list may come back nil or empty.
	deq("e-lol", fmt.Sprintf("%+v", gotL), err, fmt.Sprintf("%+v", cabi.Tuple3[[][]nested.Item, []rune, [][]byte]{F0: items, F1: chars, F2: bytes}))
	// Resources in spilled parameters: a lent, the others moved.
	a, b, c1, c2, d := newRes(), newRes(), newRes(), newRes(), newRes()
	gotS, err := x.ESpill(ctx, a, b, []echo.R{c1, c2}, cabi.Some[echo.R](d), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
	deq("e-spill", gotS, err, cabi.Tuple5[uint32, uint32, uint32, uint32, uint64]{F0: a.id, F1: b.id, F2: c1.id + c2.id, F3: d.id, F4: 91})
	gotS, err = x.ESpill(ctx, a, newRes(), nil, cabi.None[echo.R](), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
	deq("e-spill none", gotS.F3, err, uint32(0))
	if live != 1 {
		failures++
		fmt.Printf("FAIL %d resources live, want the borrowed one\n", live)
	}
	a.Drop()
	if n := inst.Table().Len(); n != 0 {
		failures++
		fmt.Printf("FAIL %d handles left\n", n)
	}
	if failures > 0 {
		fmt.Printf("%d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("ok")
}
`

// TestEdgeWITHidden runs edgeWIT's hidden, exported by a wasip1 reactor
// and called through the generated callers: its functions named like
// cabi.Exports' methods (enter, leave, refusal, drop-guest), which the
// generated Exports has as its own methods, work, and so do the calls
// of the embedded cabi.Exports that the generated methods make; its
// resource's methods named like cabi.GuestResource's (rep, spent,
// guest-resource) are RepMethod, SpentMethod and GuestResourceMethod in
// Go, so that the handle keeps cabi.GuestResource's Rep and Spent: the
// host program checks both, before and after the handle moves to the
// guest. Before, the generated Go did not compile (Exports.Enter hid the
// embedded Enter its scalar methods call) and Rep and Spent of the
// handle were the guest's methods.
func TestEdgeWITHidden(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a guest and a host; skipped with -short")
	}
	edgeRoundTripOf(t, "export", "hidden", edgeHiddenGuest, edgeHiddenHost)
}

// edgeHiddenGuest implements hidden.
const edgeHiddenGuest = `//go:build wasip1

package main

import "example.com/edge/guest/t/edge/hidden"

type impl struct{}

func (impl) Enter() uint32          { return 1 }
func (impl) Leave(a uint32) uint32  { return a + 2 }
func (impl) Refusal() uint32        { return 3 }
func (impl) DropGuest() uint32      { return 4 }
func (impl) NewH(v uint32) hidden.H { return hidden.HOf(&h{v: v}) }

// Consume returns the value of the h moved to it, and drops it.
func (impl) Consume(x hidden.H) uint32 {
	v := x.Impl().(*h).v
	x.Drop()
	return v
}

type h struct{ v uint32 }

func (r *h) RepMethod() uint32           { return r.v * 10 }
func (r *h) SpentMethod() bool           { return r.v%2 == 1 }
func (r *h) GuestResourceMethod() uint32 { return r.v + 100 }
func (r *h) Drop()                       {}

func init() { hidden.SetExports(impl{}) }

func main() {}
`

// edgeHiddenHost calls hidden in the guest.
const edgeHiddenHost = `package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"example.com/edge/host/t/edge/hidden"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasitls/wasitls/cabi"
)

var failures int

func check(what string, got any, err error, want any) {
	if err != nil {
		failures++
		fmt.Printf("FAIL %s: %v\n", what, err)
		return
	}
	if got != want {
		failures++
		fmt.Printf("FAIL %s: got %v, want %v\n", what, got, want)
	}
}

// guestResource is what the host's handle keeps of cabi.GuestResource:
// a WIT method of the same name would hide it.
type guestResource interface {
	Rep() uint32
	Spent() bool
}

var _ guestResource = (*hidden.H)(nil)

func main() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := hidden.Register(ctx, r); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	wasm, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize").WithStdout(os.Stdout).WithStderr(os.Stdout))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	x, err := hidden.Bind(inst, mod, "")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	v, err := x.Enter(ctx)
	check("enter", v, err, uint32(1))
	v, err = x.Leave(ctx, 5)
	check("leave", v, err, uint32(7))
	v, err = x.Refusal(ctx)
	check("refusal", v, err, uint32(3))
	v, err = x.DropGuest(ctx)
	check("drop-guest", v, err, uint32(4))

	h3, err := x.NewH(ctx, 3)
	check("new h 3", err == nil, err, true)
	h4, err := x.NewH(ctx, 4)
	check("new h 4", err == nil, err, true)
	v, err = h3.RepMethod(ctx)
	check("rep", v, err, uint32(30))
	b, err := h3.SpentMethod(ctx)
	check("spent", b, err, true)
	b, err = h4.SpentMethod(ctx)
	check("spent 4", b, err, false)
	v, err = h4.GuestResourceMethod(ctx)
	check("guest-resource", v, err, uint32(104))
	// cabi.GuestResource's own: the reps the guest gave, distinct, and
	// neither handle spent.
	var g3, g4 guestResource = h3, h4
	check("Rep", g3.Rep() == h3.GuestResource.Rep() && g4.Rep() == h4.GuestResource.Rep() && g3.Rep() != g4.Rep(), nil, true)
	check("Spent before", g3.Spent() || g4.Spent(), nil, false)
	v, err = x.Consume(ctx, h3)
	check("consume", v, err, uint32(3))
	check("Spent after the move", h3.Spent(), nil, true)
	if _, err := h3.RepMethod(ctx); !errors.Is(err, cabi.ErrSpent) {
		failures++
		fmt.Printf("FAIL rep of the moved h: %v, want cabi.ErrSpent\n", err)
	}
	check("Spent of the other", h4.Spent(), nil, false)
	if err := h4.Drop(ctx); err != nil {
		failures++
		fmt.Printf("FAIL drop: %v\n", err)
	}
	check("Spent after Drop", h4.Spent(), nil, true)
	if n := inst.Table().Len(); n != 0 {
		failures++
		fmt.Printf("FAIL %d handles left\n", n)
	}
	if failures > 0 {
		fmt.Printf("%d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("ok")
}
`

// TestPackageNamesLikeLocals generates bindings of an interface using
// types of interfaces named like locals and receivers of the generated
// bodies (a sample of glueLocals, numbered ones) and like packages they
// import, imported and exported, and builds and vets them: each such
// package gets its WIT package's name as prefix, where before a local
// shadowed it (h.RType with h the Host, s.RType with s the stack, call.RType
// with call the cabi.Call). TestPackageNameLocals checks the rule for
// every name.
func TestPackageNamesLikeLocals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module; skipped with -short")
	}
	names := []string{"h", "call", "s", "c", "v", "self", "impl", "rep", "p1", "x2", "runtime", "strconv", "unsafe", "witval"}
	var ifaces, uses, funcs strings.Builder
	for i, n := range names {
		fmt.Fprintf(&ifaces, "interface %%%s { resource r { constructor(); m: func(x: borrow<r>) -> list<r>; } record q { a: string, b: list<r> } }\n", n)
		fmt.Fprintf(&uses, "    use %%%s.{r as r%d, q as q%d};\n", n, i, i)
		fmt.Fprintf(&funcs, "    %%f%d: func(x: borrow<r%d>, y: list<r%d>, z: q%d, w: option<r%d>, s: string) -> result<tuple<r%d, q%d, list<q%d>>, string>;\n", i, i, i, i, i, i, i, i)
		fmt.Fprintf(&funcs, "    %%g%d: func(x: r%d) -> u32;\n", i, i)
	}
	for _, side := range []string{"import", "export"} {
		t.Run(side, func(t *testing.T) {
			src := "package t:edge@0.1.0;\n" + ifaces.String() + "interface user {\n" + uses.String() + funcs.String() + "}\nworld w {\n    " + side + " user;\n}\n"
			dir := edgeModule(t, src)
			goCmd(t, dir, false, "vet", "./host/...")
			goCmd(t, dir, true, "vet", "./guest/...")
		})
	}
}
