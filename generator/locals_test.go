package generator

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.bytecodealliance.org/wit"
)

// TestGlueLocalsComplete keeps glueLocals complete: it generates both
// sides of every world the golden tests and the project's bindings use,
// collects every name the generated files declare at top level or in a
// function (receivers, parameters, named results, :=, var, type, range)
// that a package could be
// named (lower case letters and digits) and wants each to be a glueLocal,
// unless it is a WIT function's parameter or result name made local
// (those come from the WIT, not the generator). A new local in a
// generated body then fails here until it is added to glueLocals, so that
// a package named like it gets its prefix; and an entry of glueLocals no
// generated body declares fails too, so that the list says what the
// generator does.
func TestGlueLocalsComplete(t *testing.T) {
	root := repoRoot(t)
	worlds := []struct{ wit, world string }{
		{"testdata/kitchen", "test:kitchen/kitchen"},
		{"testdata/kitchen", "test:kitchen/plugin-host"},
		{"testdata/kitchen", "test:kitchen/calc-plugin"},
		{"testdata/kitchen", "test:kitchen/tally-plugin"},
		{filepath.Join(root, "wit"), "wasitls:host/host"},
		{filepath.Join(root, "wit"), "wasitls:host/guest"},
		{filepath.Join(root, "wit"), "wasi:http/proxy@0.2.8"},
		{"", "w"}, // a record as an error, which none of those has
	}
	unknown := map[string]string{} // name: the file it is declared in
	declared := map[string]bool{}
	for _, w := range worlds {
		var res *wit.Resolve
		if w.wit == "" {
			_, res = loadString(t, "package t:locals;\n"+
				"interface i { record bad { code: u32 } f: func() -> result<u32, bad>; }\n"+
				"interface j { use i.{bad}; g: func() -> result<u32, bad>; }\n"+
				"world w { import i; export j; }\n")
		} else {
			res = load(t, w.wit)
		}
		fromWIT := witLocals(res)
		for _, guest := range []bool{false, true} {
			files, err := Generate(res, Options{World: w.world, Package: "example.com/locals", Guest: guest})
			if err != nil {
				t.Fatalf("%s (guest %v): %v", w.world, guest, err)
			}
			for _, f := range files {
				for _, n := range declaredLocals(t, f) {
					if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
						continue // no package name: packageName's are [a-z0-9]+
					}
					declared[n] = true
					if !glueLocal(n) && !fromWIT[n] {
						unknown[n] = f.Path
					}
				}
			}
		}
	}
	var names []string
	for n, path := range unknown {
		names = append(names, n+" ("+path+")")
	}
	sort.Strings(names)
	if len(names) > 0 {
		t.Errorf("generated code declares locals missing from glueLocals: %s", strings.Join(names, ", "))
	}
	var stale []string
	for n := range glueLocals {
		if !declared[n] {
			stale = append(stale, n)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("glueLocals holds names no generated code declares: %s", strings.Join(stale, ", "))
	}
}

// witLocals returns the Go names of the parameters and named results of
// every function in res (local).
func witLocals(res *wit.Resolve) map[string]bool {
	names := map[string]bool{}
	add := func(f *wit.Function) {
		for _, p := range append(append([]wit.Param(nil), f.Params...), f.Results...) {
			if p.Name != "" {
				names[local(p.Name)] = true
			}
		}
	}
	for _, i := range res.Interfaces {
		for _, f := range i.Functions.All() {
			add(f)
		}
	}
	for _, w := range res.Worlds {
		for _, items := range []func(func(string, wit.WorldItem) bool){w.Imports.All(), w.Exports.All()} {
			for _, item := range items {
				if f, ok := item.(*wit.Function); ok {
					add(f)
				}
			}
		}
	}
	return names
}

// declaredLocals returns the names f declares at top level (functions,
// variables, constants and types) and in its functions and function
// literals, "_" aside.
func declaredLocals(t *testing.T, f File) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Data, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("%s: %v", f.Path, err)
	}
	var names []string
	idents := func(ids ...ast.Expr) {
		for _, id := range ids {
			if id, ok := id.(*ast.Ident); ok && id.Name != "_" {
				names = append(names, id.Name)
			}
		}
	}
	fields := func(l *ast.FieldList) {
		if l == nil {
			return
		}
		for _, fd := range l.List {
			for _, n := range fd.Names {
				idents(n)
			}
		}
	}
	specs := func(specs []ast.Spec) {
		for _, s := range specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, id := range s.Names {
					idents(id)
				}
			case *ast.TypeSpec:
				idents(s.Name)
			}
		}
	}
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			specs(d.(*ast.GenDecl).Specs)
			continue
		}
		if fn.Recv == nil {
			idents(fn.Name)
		}
		fields(fn.Recv)
		fields(fn.Type.Params)
		fields(fn.Type.Results)
		if fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				fields(n.Type.Params)
				fields(n.Type.Results)
			case *ast.AssignStmt:
				if n.Tok == token.DEFINE {
					idents(n.Lhs...)
				}
			case *ast.RangeStmt:
				if n.Tok == token.DEFINE {
					idents(n.Key, n.Value)
				}
			case *ast.DeclStmt:
				specs(n.Decl.(*ast.GenDecl).Specs)
			}
			return true
		})
	}
	return names
}
