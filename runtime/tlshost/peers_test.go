package tlshost

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testpeer"
)

// External peers: internal/testpeer skips a test loudly when one is
// missing, and fails it in CI.

func nodePeer(t *testing.T) string    { return testpeer.Node24.Path(t) }
func opensslPeer(t *testing.T) string { return testpeer.OpenSSL.Path(t) }
func curlPeer(t *testing.T) string    { return testpeer.Curl.Path(t) }

// TestMain repeats the peers that were missing after the tests.
func TestMain(m *testing.M) { os.Exit(testpeer.Main(m)) }

// writeFiles writes name→contents into a fresh directory.
func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// peerProcess runs a peer in the background; its combined output is
// available once it exited.
type peerProcess struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	out    strings.Builder

	once sync.Once
	err  error
}

func startPeer(t *testing.T, stdin string, name string, args ...string) *peerProcess {
	t.Helper()
	return startPeerWith(t, stdin, nil, name, args...)
}

// startPeerEnv is startPeer with extra environment variables.
func startPeerEnv(t *testing.T, env []string, name string, args ...string) *peerProcess {
	t.Helper()
	return startPeerWith(t, "", env, name, args...)
}

func startPeerWith(t *testing.T, stdin string, env []string, name string, args ...string) *peerProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &peerProcess{cmd: cmd, stdout: bufio.NewReader(pipe)}
	cmd.Stderr = &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		p.wait()
	})
	return p
}

// line reads one line of the peer's stdout.
func (p *peerProcess) line(t *testing.T) string {
	t.Helper()
	s, err := p.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("peer output: %v (stderr: %s)", err, p.out.String())
	}
	return strings.TrimSpace(s)
}

// rest reads the peer's stdout to its end and waits for it.
func (p *peerProcess) rest(t *testing.T) (string, error) {
	t.Helper()
	var b strings.Builder
	for {
		s, err := p.stdout.ReadString('\n')
		b.WriteString(s)
		if err != nil {
			break
		}
	}
	return b.String(), p.wait()
}

func (p *peerProcess) wait() error {
	p.once.Do(func() { p.err = p.cmd.Wait() })
	return p.err
}
