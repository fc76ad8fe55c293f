package readme

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testpeer"
)

// TestOwnModule follows the README's "Your own module" section as a
// newcomer would, outside this module: beside a stand-in for the checkout
// (../wasitls, a link to this tree), it runs the section's go mod
// commands, writes its main.go, builds the guest and the wasitls command
// from the new module, makes the certificate and runs the server and the
// client as written. The repository's go.sum stands in for go mod tidy,
// which would need the module proxy; port 0 stands in for 8444 in the
// server's command, and the port it reports in the client's. It then runs
// the server without its --identity flag and checks that the guest's
// error names the flag.
func TestOwnModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module, a guest and the command")
	}
	testpeer.OpenSSL.Path(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Your own module\n")
	if !ok {
		t.Fatal(`README.md has no heading "## Your own module"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	setup := commandsAfter(t, section, "\n")
	src := blockAfter(t, section, "`main.go`:", "go")
	steps := commandsAfter(t, section, "run the server:")
	client := commandsAfter(t, section, "in another terminal:")
	if len(setup) != 2 || !strings.HasPrefix(setup[0], "go mod init ") || !strings.HasPrefix(setup[1], "go mod edit ") {
		t.Fatalf("the first block is not go mod init and go mod edit: %q", setup)
	}
	if len(steps) < 2 || steps[0] != "go mod tidy" {
		t.Fatalf("the build block does not start with go mod tidy: %q", steps)
	}
	if len(client) != 1 {
		t.Fatalf("the client block has %d commands, want 1: %q", len(client), client)
	}

	root, dir := moduleBeside(t, "mytls")
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
	port := "0" // the server's, once it listens
	command := func(ctx context.Context, line string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.ReplaceAll(line, "8444", port))
		cmd.Dir, cmd.Env = dir, env
		return cmd
	}
	run := func(line string) string {
		t.Helper()
		out, err := command(context.Background(), line).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return string(out)
	}
	for _, line := range setup {
		run(line)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	server := steps[len(steps)-1]
	for _, line := range steps[1 : len(steps)-1] {
		run(line)
	}

	// Without --identity the guest cannot get its identity, and its error
	// says which flag gives it.
	noID := strings.Replace(server, "--identity web=server.pem,server.key ", "", 1)
	if noID == server {
		t.Fatal("the server command has no --identity web=server.pem,server.key")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := command(ctx, noID).CombinedOutput(); err == nil || !strings.Contains(string(out), "--identity web=CERT,KEY") {
		t.Errorf("without --identity: %v; want a failure naming --identity web=CERT,KEY; output:\n%s", err, out)
	}

	port = listenPort(t, command(context.Background(), "exec "+server))

	out := run(client[0])
	if !strings.HasPrefix(out, "TLS 1.3, X25519MLKEM768\nHTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nhello\n") {
		t.Fatalf("client printed:\n%s", out)
	}
	if !strings.Contains(section, "prints `TLS 1.3, X25519MLKEM768`") {
		t.Error("the section no longer says what the client prints, which this test checks")
	}
}
