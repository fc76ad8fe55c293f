package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

func dispatchArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	code, out, errOut := dispatchArgs("help")
	if code != 0 || !strings.Contains(out, "commands:") || errOut != "" {
		t.Errorf("help: code %d, stdout %q, stderr %q; want the command list on stdout", code, out, errOut)
	}
	code, out, errOut = dispatchArgs("help", "run")
	if code != 0 || !strings.Contains(out, "usage: wasitls run") || !strings.Contains(out, "-allow-connect") || errOut != "" {
		t.Errorf("help run: code %d, stdout %q, stderr %q; want the usage and flags on stdout", code, out, errOut)
	}
	code, out, errOut = dispatchArgs("help", "nosuch")
	if code != 2 || !strings.Contains(errOut, `unknown command "nosuch"`) || out != "" {
		t.Errorf("help nosuch: code %d, stdout %q, stderr %q; want exit 2 and an error", code, out, errOut)
	}
	code, _, errOut = dispatchArgs()
	if code != 2 || !strings.Contains(errOut, "usage:") {
		t.Errorf("no arguments: code %d, stderr %q; want exit 2 and the usage", code, errOut)
	}
}

// TestBadFlag: a mistake in a flag is reported on its own, with how to
// list the flags, not followed by every flag; -h still lists them.
func TestBadFlag(t *testing.T) {
	for _, args := range [][]string{{"run", "--nosuch", "x.wasm"}, {"demo", "--nosuch"}, {"bench", "--nosuch"}, {"bench", "soak", "--nosuch"}} {
		code, out, errOut := dispatchArgs(args...)
		name := strings.Join(args[:len(args)-1], " ")
		if args[0] == "run" {
			name = "run"
		}
		want := "flag provided but not defined: -nosuch\nRun \"wasitls " + name + " -h\" for its flags.\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want exit 2 and stderr %q", args, code, out, errOut, want)
		}
	}
	// A duration without a unit says what a duration looks like.
	code, out, errOut := dispatchArgs("run", "--handshake-timeout", "30", "x.wasm")
	want := "invalid value \"30\" for flag -handshake-timeout: want a duration with a unit, such as 500ms, 30s, 2m or 24h\nRun \"wasitls run -h\" for its flags.\n"
	if code != 2 || out != "" || errOut != want {
		t.Errorf("--handshake-timeout 30: code %d, stdout %q, stderr %q; want exit 2 and stderr %q", code, out, errOut, want)
	}
	// No guest file: said in one line, with the usage line, not every flag.
	code, out, errOut = dispatchArgs("run", "--allow-connect", "localhost:443")
	if code != 2 || out != "" || !strings.HasPrefix(errOut, "wasitls run: no guest file") || strings.Contains(errOut, "-allow-connect") {
		t.Errorf("run without a guest: code %d, stdout %q, stderr %q; want exit 2 and a one-line reason", code, out, errOut)
	}
	code, _, errOut = dispatchArgs("run", "-h")
	if code != 0 || !strings.Contains(errOut, "usage: wasitls run") || !strings.Contains(errOut, "-allow-connect") {
		t.Errorf("run -h: code %d, stderr %q; want the usage and flags", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := dispatchArgs("version")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"wasitls:", "go:       go1.", "wazero:   v", "backends: " + strings.Join(backends.Names(), ", ")} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	if code, alias, _ := dispatchArgs("--version"); code != 0 || alias != out {
		t.Errorf("--version: code %d, stdout %q; want what version prints", code, alias)
	}
	if code, _, _ := dispatchArgs("version", "extra"); code != 2 {
		t.Errorf("version extra: code %d; want 2", code)
	}
}

// TestFlagHelpSaysPlaceholderOnce: no flag's help begins with its
// placeholder, which the line above it already shows (-identity
// NAME=CERT,KEY[,OCSP] did).
func TestFlagHelpSaysPlaceholderOnce(t *testing.T) {
	for _, cmd := range [][]string{{"run"}, {"demo"}, {"bench"}, {"bench", "soak"}} {
		for _, f := range commandFlags(t, cmd...) {
			name, usage := flag.UnquoteUsage(f)
			if name != "" && strings.HasPrefix(usage, name) {
				t.Errorf("wasitls %s: -%s %s: help begins with its placeholder again: %q", strings.Join(cmd, " "), f.Name, name, usage)
			}
		}
	}
}
