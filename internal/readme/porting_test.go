package readme

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPortingNames checks that every name docs/tls.md's "Porting from
// Node.js or .NET" table gives in its guest/tls column (Dial,
// Config.NextProtos, Conn.HandshakeContext) is declared by package
// guest/tls as built for GOOS=wasip1: a function, type, constant or
// variable, or a field or method of a type of it.
func TestPortingNames(t *testing.T) {
	doc, err := os.ReadFile("../../docs/tls.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n### Porting from Node.js or .NET\n")
	if !ok {
		t.Fatal(`docs/tls.md has no heading "### Porting from Node.js or .NET"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")

	decls := guestTLSDecls(t)
	name := regexp.MustCompile("`([A-Z][A-Za-z0-9]*(?:\\.[A-Z][A-Za-z0-9]*)?)`")
	checked := 0
	for _, row := range strings.Split(section, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[3]) == "`guest/tls`" {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[3], -1) {
			checked++
			if !decls[m[1]] {
				t.Errorf("docs/tls.md names %s, which guest/tls does not declare (row %q)", m[1], strings.TrimSpace(row))
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d names of the porting table, want at least 20: is it still a table of four columns?", checked)
	}
}

// guestTLSDecls returns the exported names guest/tls declares for
// GOOS=wasip1: top-level ones, and Type.Member for fields and methods.
func guestTLSDecls(t *testing.T) map[string]bool {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH = "wasip1", "wasm"
	dir, err := filepath.Abs("../../guest/tls")
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ctx.ImportDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	decls := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range pkg.GoFiles {
		file, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					decls[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok {
					decls[id.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						decls[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, f := range st.Fields.List {
								for _, n := range f.Names {
									decls[s.Name.Name+"."+n.Name] = true
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							decls[n.Name] = true
						}
					}
				}
			}
		}
	}
	return decls
}
