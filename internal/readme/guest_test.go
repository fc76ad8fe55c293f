package readme

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestWriteGuestSnippet builds the README's "Write a guest" fragment (its
// import lines, then statements) as the body of a guest's main, for
// GOOS=wasip1 GOARCH=wasm, so that the API it shows cannot drift. Each
// name the fragment declares with := is used once, as a program would.
func TestWriteGuestSnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := blockAfter(t, string(readme), "\n## Write a guest\n", "go")
	var imports, body []string
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "import "):
			imports = append(imports, line)
		case strings.TrimSpace(line) != "":
			body = appendStatement(body, line)
		}
	}
	if len(imports) == 0 || len(body) == 0 {
		t.Fatalf("the Write a guest block is not import lines and statements:\n%s", block)
	}
	src := "package main\n\n" + strings.Join(imports, "\n") + "\n\nfunc main() {\n" + strings.Join(body, "\n") + "\n}\n"

	dir := t.TempDir()
	build := overlayBuild(t, dir, "guestsnippet", src, filepath.Join(dir, "guest.wasm"))
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's Write a guest snippet does not build as a guest: %v\n%s\n%s", err, out, src)
	}

	// Built for the host instead, it fails with the error the README
	// quotes, so that a reader who forgot the two variables finds it.
	const quoted = "undefined: wasitls.Dial"
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), "fails with `"+quoted+"`") {
		t.Fatalf("the README no longer quotes %q", quoted)
	}
	build = overlayBuild(t, dir, "guestsnippet", src, filepath.Join(dir, "host-bin"))
	build.Env = append(os.Environ(), "GOOS="+goruntime.GOOS, "GOARCH="+goruntime.GOARCH)
	if out, err := build.CombinedOutput(); err == nil || !strings.Contains(string(out), quoted) {
		t.Errorf("the snippet built for the host: %v, want a failure with %q:\n%s", err, quoted, out)
	}
}

// appendStatement appends line to a function body, then a use of each name
// it declares with :=, as a program would use them, so that a fragment
// builds on its own.
func appendStatement(body []string, line string) []string {
	body = append(body, "\t"+line)
	if lhs, _, ok := strings.Cut(line, ":="); ok {
		for _, name := range strings.Split(lhs, ",") {
			if name = strings.TrimSpace(name); name != "_" {
				body = append(body, "\t_ = "+name)
			}
		}
	}
	return body
}
