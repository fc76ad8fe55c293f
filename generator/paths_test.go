package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionedPaths: two versions of one package holding an interface of
// the same name get the version in their path; packages named like Go
// keywords or predeclared identifiers, or like a local of the generated
// code (x), get a prefix.
func TestVersionedPaths(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"world.wit":     "package test:multi@0.1.0;\n\nworld w {\n    import a:b/x@0.1.0;\n    import a:b/x@0.2.0;\n    import a:b/error@0.2.0;\n}\n",
		"deps/b1/x.wit": "package a:b@0.1.0;\n\ninterface x {\n    f: func() -> u32;\n}\n",
		"deps/b2/x.wit": "package a:b@0.2.0;\n\ninterface x {\n    f: func() -> u64;\n}\n\ninterface error {\n    g: func();\n}\n",
	}
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Generate(res, Options{World: "w", Package: "example.com/b"})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range out {
		paths = append(paths, f.Path)
	}
	got := strings.Join(paths, " ")
	for _, want := range []string{"a/b/v0.1.0/x/bx.wit.go", "a/b/v0.2.0/x/bx.wit.go", "a/b/error/berror.wit.go"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s in %s", want, got)
		}
	}
	for _, f := range out {
		if strings.HasPrefix(f.Path, "a/b/error/") && !strings.Contains(string(f.Data), "package berror") {
			t.Errorf("%s: package clause is not berror", f.Path)
		}
	}
}

func TestUnsupportedWorlds(t *testing.T) {
	for name, src := range map[string]string{
		"exported function":     "package test:e@0.1.0;\n\nworld w {\n    export f: func();\n}\n",
		"imported and exported": "package test:e@0.1.0;\n\ninterface x {\n    f: func();\n}\n\nworld w {\n    import x;\n    export x;\n}\n",
		"world-level function":  "package test:e@0.1.0;\n\nworld w {\n    import f: func();\n}\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "w.wit"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Generate(res, Options{World: "w", Package: "example.com/e"}); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "world test:e/w") {
			t.Errorf("%s: error %q does not name the world", name, err)
		}
	}
}

// TestUnsupportedExports checks the clear errors for what exported
// interfaces cannot carry yet.
func TestUnsupportedExports(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"another interface's resource": {"package test:e@0.1.0;\n\ninterface y {\n    resource r;\n}\n\ninterface x {\n    use y.{r};\n    f: func(v: borrow<r>);\n}\n\nworld w {\n    export y;\n    export x;\n}\n",
			"f: the resource r is exported by another interface (test:e/y): not supported"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "w.wit"), []byte(tc.src), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Generate(res, Options{World: "w", Package: "example.com/e"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}
