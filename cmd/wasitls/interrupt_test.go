package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
)

// TestRunInterrupt sends SIGINT to a "wasitls run" process whose guest has
// a TLS handshake pending with a server that never answers, or has just
// given up on one: the process exits within a second either way. Before,
// a guest that gave up on a stdtls handshake froze inside the host, and
// SIGINT did nothing for as long as the peer kept the socket open.
func TestRunInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "wasitls")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	guest := wasmFile(t, "../../runtime/tlshost/testdata/giveup")
	for _, backend := range []string{"stdtls", "circl-pq"} {
		for _, tc := range []struct {
			name, timeout string
			// ready reports when the process is in the state to test,
			// since is how long ago the ClientHello arrived (0: not yet).
			ready func(out string, since time.Duration) bool
		}{
			{"pending", "1m", func(_ string, since time.Duration) bool { return since > 0 }},
			{"given-up", "500ms", func(out string, since time.Duration) bool {
				// The guest reports giving up, or should have by now.
				return strings.Contains(out, "dial: ") || since > 2*time.Second
			}},
		} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				addr, helloed := silentTCP(t)
				cmd := exec.Command(bin, "run", "--backend", backend, "--allow-connect", addr, guest, "client", addr, tc.timeout, "hold")
				var out lockedBuffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				defer cmd.Process.Kill()
				deadline := time.Now().Add(20 * time.Second)
				var helloAt time.Time
				for {
					var since time.Duration
					if helloAt.IsZero() && isClosed(helloed) {
						helloAt = time.Now()
					}
					if !helloAt.IsZero() {
						since = time.Since(helloAt) + time.Nanosecond
					}
					if tc.ready(out.String(), since) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("not ready in time; output:\n%s", out.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
				if tc.name == "given-up" && !strings.Contains(out.String(), "dial: ") {
					t.Errorf("DialContext with a 500ms timeout did not return within 2s")
				}
				if err := cmd.Process.Signal(os.Interrupt); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				select {
				case err := <-exited:
					t.Logf("exited %v after SIGINT: %v", time.Since(start).Round(time.Millisecond), err)
					if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
						t.Errorf("exit: %v, want code 130; output:\n%s", err, out.String())
					}
				case <-time.After(time.Second):
					t.Fatalf("still running 1s after SIGINT; output:\n%s", out.String())
				}
			})
		}
	}
}

// silentTCP accepts connections and never answers; helloed is closed once
// the first bytes (the ClientHello) arrived.
func silentTCP(t *testing.T) (addr string, helloed chan struct{}) {
	helloed = make(chan struct{})
	var once sync.Once
	return testnet.Serve(t, func(c net.Conn) {
		if n, _ := c.Read(make([]byte, 1)); n > 0 {
			once.Do(func() { close(helloed) })
		}
		io.Copy(io.Discard, c)
	}).String(), helloed
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// listeningLine is what the guest servers of the tests print once they
// listen.
var listeningLine = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)\n`)

// waitListening waits until a guest server run by dispatch prints its
// address on stdout, and returns it; a run that exits first fails the test
// with its output.
func waitListening(t *testing.T, stdout, stderr *lockedBuffer, code <-chan int) string {
	t.Helper()
	for {
		if m := listeningLine.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case c := <-code:
			t.Fatalf("exited with %d before listening: %s%s", c, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
