package readme

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testpeer"
)

func TestMain(m *testing.M) { os.Exit(testpeer.Main(m)) }

// commandsAfter returns the commands of the first ```sh block after
// marker in section, each on one line (lines continued with a backslash
// joined).
func commandsAfter(t *testing.T, section, marker string) []string {
	t.Helper()
	var cmds []string
	for _, line := range strings.Split(strings.ReplaceAll(blockAfter(t, section, marker, "sh"), "\\\n", ""), "\n") {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// listenPort starts srv, a server that prints "listening on
// 127.0.0.1:PORT" when it listens, stops it when the test ends, and
// returns the port it bound.
func listenPort(t *testing.T, srv *exec.Cmd) string {
	t.Helper()
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var srvErr strings.Builder
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening on ") {
				listening <- sc.Text()
			}
		}
		close(listening)
	}()
	select {
	case line, ok := <-listening:
		const want = "listening on 127.0.0.1:"
		p, err := strconv.Atoi(strings.TrimPrefix(line, want))
		if !ok || !strings.HasPrefix(line, want) || err != nil || p <= 0 || p > 65535 {
			t.Fatalf("server printed %q, want %q and the port it bound; stderr:\n%s", line, want, srvErr.String())
		}
		return strconv.Itoa(p)
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not listen within 30s; stderr:\n%s", srvErr.String())
	}
	return ""
}

// moduleBeside makes, in a temporary directory, a new empty directory
// named name beside a link named wasitls to this tree (a checkout beside
// the new module), and returns the tree's root and the new directory.
func moduleBeside(t *testing.T, name string) (root, dir string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := os.Symlink(root, filepath.Join(tmp, "wasitls")); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, dir
}

// TestRunYourOwnGuest runs the README's "Run your own guest" commands for
// the loopback server and client as written, from the module's root, with
// three substitutions: the wasitls binary for "go run ./cmd/wasitls", a
// temporary directory for bin/ (the tree is not written), and for 8443,
// port 0 in the server's command (the system picks a free port, which the
// server reports in its "listening on" line) and that port in the
// client's. The example.com command needs the Internet and is not run;
// the guest build before it is.
func TestRunYourOwnGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and two guests")
	}
	testpeer.OpenSSL.Path(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Run your own guest\n")
	if !ok {
		t.Fatal(`README.md has no heading "## Run your own guest"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	first := commandsAfter(t, section, "\n")
	server := commandsAfter(t, section, "in one terminal:")
	client := commandsAfter(t, section, "in another:")
	if len(first) == 0 || !strings.HasPrefix(first[0], "GOOS=wasip1 GOARCH=wasm go build") {
		t.Fatalf("the first command is not the client guest's build: %q", first)
	}
	if len(client) != 1 {
		t.Fatalf("the client block has %d commands, want 1: %q", len(client), client)
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "wasitls")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wasitls")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wasitls: %v\n%s", err, out)
	}
	// port is the server's, once it listens: "0" until then.
	port := "0"
	rewrite := func(line string) string {
		return strings.NewReplacer("go run ./cmd/wasitls", bin, "bin/", tmp+"/", "8443", port).Replace(line)
	}
	shell := func(line string) *exec.Cmd {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", rewrite(line))
		cmd.Dir = root
		return cmd
	}
	// failing runs line, which must fail, for at most a minute.
	failing := func(line string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", rewrite(line))
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := func(line string) string {
		t.Helper()
		out, err := shell(line).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return string(out)
	}

	run(first[0])
	for _, line := range server[:len(server)-1] {
		run(line)
	}
	// Without --dir the server cannot open its key, and says why.
	noDir := strings.Replace(server[len(server)-1], "--dir bin/certs:/certs:ro ", "", 1)
	if noDir == server[len(server)-1] {
		t.Fatal("the server command has no --dir bin/certs:/certs:ro")
	}
	if out, err := failing(noDir); err == nil || !strings.Contains(out, "no preopened directory holds it") {
		t.Errorf("without --dir: %v; want a failure saying no preopened directory holds the key; output:\n%s", err, out)
	}
	// exec: the server replaces the shell, so killing it stops the server.
	port = listenPort(t, shell("exec "+server[len(server)-1]))

	out := run(client[0])
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "hello from a wasi:tls server\n") {
		t.Fatalf("client printed:\n%s", out)
	}

	// What the README says happens without a flag: the command names it.
	for _, tc := range []struct{ flag, note string }{
		{"--allow-connect localhost:8443", "allow connecting to it with --allow-connect localhost:PORT"},
		{"--ca bin/certs/server.pem", "trust its CA with --ca FILE"},
	} {
		without := strings.Replace(client[0], tc.flag+" ", "", 1)
		if without == client[0] {
			t.Fatalf("the client command has no %q", tc.flag)
		}
		out, err := failing(without)
		if err == nil || !strings.Contains(out, tc.note) {
			t.Errorf("without %s: %v; want a failure noting %q; output:\n%s", tc.flag, err, tc.note, out)
		}
	}
}
