package bench

import (
	"crypto/tls"
	"maps"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/internal/testpeer"
)

// TestFloorShape runs a few connections of each floor operation (see
// floorShapes) on the Go guest, counting its calls after a warm-up, and
// on the C guest,
// and checks that the Go guest does per connection what its shape says:
// a server's connection starts one goroutine and grows its stack once,
// and each connection polls once per wait. The C guest must run the same
// connections to the end.
func TestFloorShape(t *testing.T) {
	e := guestTestEnv(t)
	calls := &hostCalls{}
	e.listeners = calls
	const n = 20
	for _, op := range []string{"floor", "server-floor"} {
		shape := floorShapes[op]
		for _, sub := range []subject{wasiSubject("stdtls"), cSubject("stdtls")} {
			if sub.impl == implC && e.cwasm == nil {
				testpeer.Missing(t, "C guest toolchain", e.cErr.Error())
				continue
			}
			run, stop, err := floorRun(e, sub, op, tls.X25519)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := run(n); err != nil { // warm up: the runtime's own goroutines start
				t.Fatalf("%s %s: %v", sub.name, op, err)
			}
			if sub.impl == implWASI {
				calls.on.Store(true)
			}
			_, err = run(n)
			calls.on.Store(false)
			if err != nil {
				t.Fatalf("%s %s: %v", sub.name, op, err)
			}
			if err := stop(); err != nil {
				t.Fatalf("%s %s: %v", sub.name, op, err)
			}
		}
		waits := shape.waits
		goroutines := 0
		if shape.kind == "server" {
			waits++ // the accept loop's
			goroutines = 1
		}
		for name, want := range map[string]int{
			"#runtime.newproc1":  goroutines,
			"#runtime.copystack": goroutines,
			"#github.com_wasitls_wasitls_guest_wasi_bindings_wasi_io_poll.importPoll": waits,
		} {
			if got := calls.count(name); got != int64(n*want) {
				t.Errorf("%s: %d calls of %s for %d connections, want %d", op, got, name, n, n*want)
			}
		}
		calls.reset()
	}
}

// TestServerTCP runs a few connections of -budget.op server-tcp against
// each server (native, the Go guest with a goroutine per connection and
// serving them one at a time, the C guest): plain TCP, one byte from the
// server, then the client closes.
func TestServerTCP(t *testing.T) {
	e := guestTestEnv(t)
	seq, err := budgetSubjectNamed("wasiseq-stdtls")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []subject{nativeSubject(), wasiSubject("stdtls"), seq, cSubject("stdtls")} {
		if sub.impl == implC && e.cserver == nil {
			testpeer.Missing(t, "C guest toolchain", e.cErr.Error())
			continue
		}
		h, err := e.serverHandshaker(localPeer{e}, sub, 0)
		if err != nil {
			t.Fatalf("%s: %v", sub.name, err)
		}
		_, err = h.run(10)
		h.close()
		if err != nil {
			t.Fatalf("%s: %v", sub.name, err)
		}
	}
}

// TestClientTCP runs a few connections of -budget.op client-tcp from each
// client (native, the Go guest, the C guest) against a native plain TCP
// server, and checks the Go guest's shape by its calls after a warm-up:
// per connection one socket created, one connect started, its socket and
// two streams dropped, and no goroutine started.
func TestClientTCP(t *testing.T) {
	e := guestTestEnv(t)
	calls := &hostCalls{}
	e.listeners = calls
	const n = 10
	for _, sub := range []subject{nativeSubject(), wasiSubject("stdtls"), cSubject("stdtls")} {
		if sub.impl == implC && e.cwasm == nil {
			testpeer.Missing(t, "C guest toolchain", e.cErr.Error())
			continue
		}
		h, err := e.clientHandshaker(localPeer{e}, sub, 0)
		if err != nil {
			t.Fatalf("%s: %v", sub.name, err)
		}
		_, err = h.run(n) // warm up: the runtime's own goroutines start
		if err == nil {
			calls.on.Store(sub.impl == implWASI)
			_, err = h.run(n)
			calls.on.Store(false)
		}
		h.close()
		if err != nil {
			t.Fatalf("%s: %v", sub.name, err)
		}
	}
	const bindings = "#github.com_wasitls_wasitls_guest_wasi_bindings_"
	for name, want := range map[string]int{
		"#runtime.newproc1": 0,
		bindings + "wasi_sockets_tcp_create_socket.importCreateTCPSocket": 1,
		bindings + "wasi_sockets_tcp.importTCPSocket_StartConnect":        1,
		bindings + "wasi_sockets_tcp.importTCPSocket_drop":                1,
		bindings + "wasi_io_streams.importInputStream_drop":               1,
		bindings + "wasi_io_streams.importOutputStream_drop":              1,
	} {
		if got := calls.count(name); got != int64(n*want) {
			t.Errorf("%d calls of %s for %d connections, want %d", got, name, n, n*want)
		}
	}
}

// TestBudgetOtherGuest runs a few server-tcp connections of the other
// build of the Go guest (-budget.guest; here this tree's own build) and
// checks that it runs on a runtime of its own, compiled from that build,
// and that its subjects refuse what they cannot run.
func TestBudgetOtherGuest(t *testing.T) {
	e := guestTestEnv(t)
	alt, err := budgetSubjectNamed("wasialtseq-stdtls")
	if err != nil {
		t.Fatal(err)
	}
	if !alt.alt || !alt.sequential || alt.backend != "stdtls" {
		t.Fatalf("wasialtseq-stdtls is %+v", alt)
	}
	if _, err := e.serverHandshaker(localPeer{e}, alt, 0); err == nil {
		t.Fatal("the other build's server started with no other build given")
	}
	e.altWasm = e.wasm
	h, err := e.serverHandshaker(localPeer{e}, alt, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.run(10)
	h.close()
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	_, own := e.runtimes["stdtls/alt"]
	e.mu.Unlock()
	if !own {
		t.Errorf("the other build ran on none of its own runtimes: %v", slices.Collect(maps.Keys(e.runtimes)))
	}
}
