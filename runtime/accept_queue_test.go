package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestAcceptQueueCounts: the connections the host accepts for a guest's
// listener, queued until the guest accepts them, count toward its socket
// limit. A guest with a limit of 8 sockets listening with a backlog of
// 4096 and accepting nothing while 50 clients connect makes the host hold
// 8 of their connections: 7 queued and counted, and one accepted past the
// limit and held for the guest's accept (which fails with
// new-socket-limit until a socket is dropped); the others wait in the
// kernel's backlog, as they would for a native server at its descriptor
// limit, open and not refused. Before, every listener queued up to its
// backlog (4096) beside the limit, 4096 listeners 16 million descriptors.
// The connection held past the limit refuses no call of the guest's, and
// logs no record (capreport); the guest's accept refused for the limit
// logs one, naming the guest.
func TestAcceptQueueCounts(t *testing.T) {
	const limit, clients = 8, 50
	policy := &sockets.Policy{}
	if err := policy.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	log, rec := capreporttest.New()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Logger: log, Limits: runtime.Limits{Sockets: limit}})
	before := countFDs(t)
	pr, pw := io.Pipe()
	// The guest accepts once told on its stdin, and holds what it
	// accepted until its stdin ends.
	stdin, tell := io.Pipe()
	defer tell.Close()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "queue", "4096"}, Stdin: stdin, Stdout: pw, Stderr: os.Stderr})
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var port int
	if !lines.Scan() {
		t.Fatal("no output")
	}
	if _, err := fmt.Sscanf(lines.Text(), "port %d", &port); err != nil {
		t.Fatalf("%q: %v", lines.Text(), err)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range clients {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The listener, the 7 queued and the one held past the limit.
	for wait := time.Now().Add(10 * time.Second); countFDs(t)-before-clients < limit+1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("the host holds %d descriptors after 10 s, want %d", countFDs(t)-before-clients, limit+1)
		}
	}
	if err := rec.Check("--max-sockets", limit, 0); err != nil {
		t.Errorf("a connection held past the limit, the guest refused nothing: %v", err)
	}
	if _, err := io.WriteString(tell, "accept\n"); err != nil {
		t.Fatal(err)
	}
	// new-socket-limit is error 10 of wasi:sockets/network.
	if !lines.Scan() || lines.Text() != fmt.Sprintf("accepted %d, then error 10", limit-1) {
		t.Fatalf("guest: %q, want %d accepted, then new-socket-limit (10)", lines.Text(), limit-1)
	}
	if err := rec.Check("--max-sockets", limit, 1); err != nil {
		t.Errorf("the guest's accept refused: %v", err)
	}
	// The guest holds what it accepted until told. The process's
	// descriptors: the 50 clients, the listener, the 7 the guest accepted
	// and the one held past the limit (and a few of the runtime's).
	if held := countFDs(t) - before - clients; held > limit+1+4 {
		t.Errorf("the host holds %d descriptors for a guest limited to %d sockets, want at most %d", held, limit, limit+1)
	}
	// None of the clients was refused: each read waits.
	reads := make(chan bool, clients)
	deadline := time.Now().Add(300 * time.Millisecond)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		go func() {
			_, err := c.Read(make([]byte, 1))
			reads <- errors.Is(err, os.ErrDeadlineExceeded)
		}()
	}
	open := 0
	for range conns {
		if <-reads {
			open++
		}
	}
	if open != clients {
		t.Errorf("%d of %d clients open, want all: a client past the limit waits in the backlog", open, clients)
	}
	go io.Copy(io.Discard, pr)
	tell.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
