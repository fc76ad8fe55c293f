package readme

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/guestbuild"
)

// blockAfter returns the first ```lang block after the first occurrence
// of marker in the README.
func blockAfter(t *testing.T, readme, marker, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	_, block, ok := strings.Cut(rest, "```"+lang+"\n")
	if !ok {
		t.Fatalf("README.md: no %s block after %q", lang, marker)
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatalf("README.md: unterminated %s block after %q", lang, marker)
	}
	return block
}

// overlayBuild returns the command that builds src, as the main.go of the
// package directory pkg (relative to this package; it need not exist),
// into out: a build overlay puts it there, so the tree is not written.
// dir holds the source and the overlay file.
func overlayBuild(t *testing.T, dir, pkg, src, out string) *exec.Cmd {
	t.Helper()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(abs, "main.go"): file}})
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command("go", "build", "-overlay", overlayFile, "-o", out, "./"+filepath.ToSlash(pkg))
}

// TestEmbedSnippet builds the "Embed it" program exactly as the README shows
// it, inside this module (through a build overlay, so the tree is not
// written), and runs a guest with it.
func TestEmbedSnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src := blockAfter(t, string(readme), "\n## Embed it\n", "go")
	if !strings.HasPrefix(src, "package main\n") {
		t.Fatalf("the Embed it snippet must be a whole program (package main), so it runs as copied:\n%s", src)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "embed")
	build := overlayBuild(t, dir, "embedsnippet", src, bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's Embed it program does not build: %v\n%s\n%s", err, out, src)
	}

	wasm := filepath.Join(dir, "guest.wasm")
	if err := os.WriteFile(wasm, guestbuild.MustBuild(t, "./testdata/hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	run := exec.Command(bin, wasm, "one", "two")
	run.Stdout, run.Stderr = &stdout, &stderr
	err = run.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("run: %v (want exit status 3)\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if got := stdout.String(); got != "hello from the guest: one two\n" {
		t.Errorf("stdout %q", got)
	}
	if got := stderr.String(); got != "a line on stderr\n" {
		t.Errorf("stderr %q", got)
	}
}
