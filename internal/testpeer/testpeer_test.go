package testpeer

import (
	"strings"
	"testing"
)

func TestInCI(t *testing.T) {
	for value, want := range map[string]bool{
		"": false, "0": false, "false": false, "FALSE": false, "no": false, "off": false,
		"true": true, "1": true, "yes": true, "True": true, "github-actions": true,
	} {
		t.Setenv("CI", value)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", value, got, want)
		}
	}
}

// fakeTB records what Missing does to a test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()        {}
func (f *fakeTB) Name() string   { return "TestFake" }
func (f *fakeTB) Fatal(a ...any) { f.fatal = a[0].(string) }
func (f *fakeTB) Skip(a ...any)  { f.skip = a[0].(string) }

func TestMissing(t *testing.T) {
	peer := Peer{Name: "no-such-peer-program", Install: "nowhere"}
	t.Setenv("CI", "1")
	var inCI fakeTB
	peer.Path(&inCI)
	if inCI.fatal == "" || inCI.skip != "" {
		t.Fatalf("CI=1: fatal %q, skip %q; want a failure", inCI.fatal, inCI.skip)
	}
	t.Setenv("CI", "")
	var local fakeTB
	peer.Path(&local)
	if local.skip == "" || local.fatal != "" {
		t.Fatalf("no CI: fatal %q, skip %q; want a skip", local.fatal, local.skip)
	}
	const prefix = "INTEROP PEER MISSING: no-such-peer-program (not in PATH; install: nowhere)"
	for _, msg := range []string{inCI.fatal, local.skip} {
		if !strings.HasPrefix(msg, prefix) {
			t.Errorf("message %q does not start with %q", msg, prefix)
		}
	}
	lines := Summary()
	if len(lines) != 1 || !strings.Contains(lines[0], "no-such-peer-program") || !strings.Contains(lines[0], "TestFake") {
		t.Errorf("Summary() = %q", lines)
	}
	env := Peer{Name: "enved", Env: "TESTPEER_UNSET_VARIABLE", Install: "x"}
	var e fakeTB
	env.Path(&e)
	if !strings.Contains(e.skip, "TESTPEER_UNSET_VARIABLE is not set") {
		t.Errorf("env peer: %q", e.skip)
	}
}
