package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/backends"
)

// The latency budget of docs/benchmarks.md is measured with TestBudget:
//
//	go test -c -o benchtest ./bench
//	./benchtest -test.run TestBudget -budget.subject c-stdtls -budget.op echo -budget.count
//
// runs -budget.n operations of one subject after a warm-up and prints the
// calls per operation of the guest's functions and of the wasip1 host
// functions (-budget.count: a wazero function listener; wazero does not
// call listeners of the wasi 0.2 host functions, so their calls are
// counted at the guest's import wrappers: guest/wasi/... for the Go
// guest, the C source for the C guest) and the Go scheduler's goroutine
// wake-ups per operation (runtime/metrics /sched/latencies, the whole
// process, estimated from the runtime's 1-in-8 sample), and its heap
// allocations and garbage collections per operation (runtime/metrics,
// the whole process). With
// -budget.wait it prints its pid and waits for a line on stdin before the
// operations and prints "done" after them, so that perf or strace can
// attach to this process alone (the peer runs in a child process then).
//
// With several subjects (-budget.subject native,c-stdtls) it counts
// nothing but takes turns: -budget.rounds rounds of -budget.n/rounds
// operations per subject, A B C then B C A, and prints each subject's
// median time per operation with the range of the rounds, and the median
// of the rounds' speed ratios and of their differences in µs per
// operation against the first subject, with their ranges.
//
// -budget.op floor and server-floor measure the Go runtime's own floor
// per handshake: the Go guest's floor mode against the C guest's, which
// makes the same host calls with no goroutines
// (-budget.subject c-stdtls,wasi-stdtls; see floorShapes).
var (
	budgetSubject = flag.String("budget.subject", "", "subject of TestBudget: native, backend-BACKEND (the backend's client in this process, handshakes only), wasi-BACKEND, wasiseq-BACKEND (the Go guest's server serving one connection at a time), wasialt-BACKEND and wasialtseq-BACKEND (the same from -budget.guest), c-BACKEND (the C guest, its server for server-handshake), in-guest; several, comma-separated, take turns")
	budgetOp      = flag.String("budget.op", "echo", "operation of TestBudget: echo (1-byte round trip), download or upload (-budget.size each), handshake (guest client) or server-handshake (guest server), server-tcp (the server's connection with no TLS: accept, one byte, hold until the client closes), client-tcp (the client's: connect, read the server's byte, close), floor or server-floor (a handshake's Go runtime work without TLS: wasi-BACKEND the Go guest, c-BACKEND the C guest's same host calls)")
	budgetN       = flag.Int("budget.n", 10000, "operations TestBudget measures")
	budgetSize    = flag.Int("budget.size", 16<<10, "bytes per download or upload operation of TestBudget, also the size of each write or read buffer")
	budgetCount   = flag.Bool("budget.count", false, "TestBudget counts host calls (slows them down)")
	budgetWait    = flag.Bool("budget.wait", false, "TestBudget waits for a line on stdin before the operations")
	budgetPeer    = flag.String("budget.peer", PeerSubprocess, "where TestBudget's native peer runs")
	budgetRounds  = flag.Int("budget.rounds", 8, "rounds of TestBudget when -budget.subject lists several subjects")
	budgetGuest   = flag.String("budget.guest", "", "another build of the benchmark guest (GOOS=wasip1 GOARCH=wasm go build -o FILE ./bench/testdata/benchguest in another source tree), whose server the subjects wasialt-BACKEND and wasialtseq-BACKEND run (server-handshake, server-tcp), and wasialt-BACKEND its dialer (handshake, client-tcp), beside this tree's")
	budgetGroup   = flag.String("budget.group", "X25519MLKEM768", "key-exchange group of TestBudget's sessions and handshakes: X25519MLKEM768 or X25519")
)

// hostCalls counts calls of host functions while on.
type hostCalls struct {
	on     atomic.Bool
	mu     sync.Mutex
	counts map[string]*atomic.Int64
}

func (h *hostCalls) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[string]*atomic.Int64{}
	}
	mod, fn, imported := def.Import()
	if !imported {
		mod, fn = def.ModuleName(), def.Name()
	}
	name := mod + "#" + fn
	c, ok := h.counts[name]
	if !ok {
		c = new(atomic.Int64)
		h.counts[name] = c
	}
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
		if h.on.Load() {
			c.Add(1)
		}
	})
}

// count returns the calls of name counted so far.
func (h *hostCalls) count(name string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.counts[name]; ok {
		return c.Load()
	}
	return 0
}

// reset sets every count to zero.
func (h *hostCalls) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.counts {
		c.Store(0)
	}
}

func (h *hostCalls) report(n int) (lines []string, total float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, c := range h.counts {
		if v := c.Load(); v > 0 {
			per := float64(v) / float64(n)
			total += per
			lines = append(lines, fmt.Sprintf("%8.2f  %s", per, name))
		}
	}
	slices.Sort(lines)
	slices.Reverse(lines)
	return lines, total
}

// wakeups estimates the number of times goroutines were scheduled so
// far: the runtime tracks the scheduling latency of one transition in 8
// (gTrackingPeriod in runtime/runtime2.go), so the count is multiplied.
func wakeups() uint64 {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return 8 * n
}

// allocs is the process's heap allocations so far.
type allocs struct{ objects, bytes, cycles uint64 }

// heapAllocs reads the Go heap's cumulative allocations of the whole
// process (runtime/metrics): the host's, the runtime's and, with the
// peer in-process, the peer's; a guest's own allocations are in its
// linear memory and not counted.
func heapAllocs() allocs {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return allocs{objects: s[0].Value.Uint64(), bytes: s[1].Value.Uint64(), cycles: s[2].Value.Uint64()}
}

func budgetSubjectNamed(name string) (subject, error) {
	switch {
	case name == "native":
		return nativeSubject(), nil
	case name == "in-guest":
		return inGuestSubject("stdtls"), nil
	case strings.HasPrefix(name, "backend-"):
		// A backend's own client in this process, without a guest: what
		// the C guest on that backend would be with a free host.
		return subject{name: "native " + strings.TrimPrefix(name, "backend-") + " client", native: true,
			backend: strings.TrimPrefix(name, "backend-")}, nil
	case strings.HasPrefix(name, "wasialt-"), strings.HasPrefix(name, "wasialtseq-"):
		// The other build of the Go guest (-budget.guest), its server:
		// a change in the guest libraries against this tree's, A B A B in
		// one process.
		seq := strings.HasPrefix(name, "wasialtseq-")
		sub := wasiSubject(name[strings.IndexByte(name, '-')+1:])
		sub.name += " (-budget.guest)"
		if seq {
			sub.name += " sequential"
		}
		sub.alt, sub.sequential = true, seq
		return sub, nil
	case strings.HasPrefix(name, "wasiseq-"):
		// The Go guest's server serving one connection at a time, as the
		// C guest's server does (server-handshake, server-tcp).
		sub := wasiSubject(strings.TrimPrefix(name, "wasiseq-"))
		sub.name += " sequential"
		sub.sequential = true
		return sub, nil
	case strings.HasPrefix(name, "wasi-"):
		return wasiSubject(strings.TrimPrefix(name, "wasi-")), nil
	case strings.HasPrefix(name, "c-"):
		return cSubject(strings.TrimPrefix(name, "c-")), nil
	}
	return subject{}, fmt.Errorf("unknown subject %q", name)
}

func TestBudget(t *testing.T) {
	if *budgetSubject == "" {
		t.Skip("measures the latency budget when -budget.subject is set")
	}
	var subs []subject
	for _, name := range strings.Split(*budgetSubject, ",") {
		sub, err := budgetSubjectNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if *budgetGuest != "" {
		if e.altWasm, err = os.ReadFile(*budgetGuest); err != nil {
			t.Fatal(err)
		}
	}
	calls := &hostCalls{}
	if *budgetCount {
		e.listeners = calls
	}
	var p peer = localPeer{e}
	if *budgetPeer == PeerSubprocess {
		rp, err := startRemotePeer(e)
		if err != nil {
			t.Fatal(err)
		}
		defer rp.close()
		p = rp
	}
	ops := make([]func(n int) (time.Duration, error), len(subs))
	for j, sub := range subs {
		op, closeOp, err := budgetOperation(e, p, sub)
		if err != nil {
			t.Fatal(err)
		}
		defer closeOp()
		if _, err := op(max(10, *budgetN/10)); err != nil { // warm up
			t.Fatal(err)
		}
		ops[j] = op
	}
	if len(subs) > 1 {
		budgetInterleaved(t, subs, ops)
		return
	}
	op, sub := ops[0], subs[0]
	if *budgetWait {
		fmt.Printf("pid %d ready\n", os.Getpid())
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	calls.on.Store(true)
	w0, a0 := wakeups(), heapAllocs()
	d, err := op(*budgetN)
	w1, a1 := wakeups(), heapAllocs()
	calls.on.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	if *budgetWait {
		fmt.Println("done")
	}
	n := *budgetN
	fmt.Printf("%s %s, peer %s: %d operations, %.1f µs each, %.1f goroutine wake-ups and %.1f heap allocations (%.0f bytes) each, %.3f collections each (whole process)\n",
		sub.name, *budgetOp, *budgetPeer, n, float64(d.Nanoseconds())/1e3/float64(n), float64(w1-w0)/float64(n),
		float64(a1.objects-a0.objects)/float64(n), float64(a1.bytes-a0.bytes)/float64(n),
		float64(a1.cycles-a0.cycles)/float64(n))
	if *budgetCount {
		lines, total := calls.report(n)
		fmt.Printf("host calls per operation: %.2f\n%s\n", total, strings.Join(lines, "\n"))
	}
}

// budgetOperation prepares -budget.op for sub against p: op(n) runs n
// operations and returns their time.
func budgetOperation(e *env, p peer, sub subject) (op func(n int) (time.Duration, error), closeOp func() error, err error) {
	var group tls.CurveID
	switch *budgetGroup {
	case "X25519MLKEM768":
		group = tls.X25519MLKEM768
	case "X25519":
		group = tls.X25519
	default:
		return nil, nil, fmt.Errorf("unknown -budget.group %q", *budgetGroup)
	}
	switch op := *budgetOp; {
	case !sub.alt, op == "server-handshake", op == "server-tcp":
	case !sub.sequential && (op == "handshake" || op == "client-tcp"):
	default:
		return nil, nil, fmt.Errorf("bench: %s runs the guest's server (server-handshake, server-tcp) and, unless sequential, its dialer (handshake, client-tcp), not %s", sub.name, *budgetOp)
	}
	switch *budgetOp {
	case "echo", "download", "upload":
		sess, err := e.openSession(p, sub, group)
		if err != nil {
			return nil, nil, err
		}
		size := *budgetSize
		switch *budgetOp {
		case "echo":
			return sess.echo, sess.close, nil
		case "download":
			return func(n int) (time.Duration, error) { return sess.download(uint64(n*size), size) }, sess.close, nil
		}
		return func(n int) (time.Duration, error) { return sess.upload(uint64(n*size), size) }, sess.close, nil
	case "floor", "server-floor":
		return floorRun(e, sub, *budgetOp, group)
	case "server-tcp":
		// The server handshake's connection with no TLS: the guest
		// accepts, writes one byte and holds the connection until the
		// native client, which reads the byte, closes it.
		h, err := e.serverHandshaker(p, sub, 0)
		if err != nil {
			return nil, nil, err
		}
		return h.run, h.close, nil
	case "client-tcp":
		// The client handshake's connection with no TLS: the guest
		// connects, reads the native server's byte and closes.
		h, err := e.clientHandshaker(p, sub, 0)
		if err != nil {
			return nil, nil, err
		}
		return h.run, h.close, nil
	case "handshake", "server-handshake":
		if sub.native && sub.backend != "" && *budgetOp == "handshake" {
			return backendHandshaker(e, p, sub.backend, group)
		}
		open := e.clientHandshaker
		if *budgetOp == "server-handshake" {
			open = e.serverHandshaker
		}
		h, err := open(p, sub, group)
		if err != nil {
			return nil, nil, err
		}
		return h.run, h.close, nil
	}
	return nil, nil, fmt.Errorf("unknown -budget.op %q", *budgetOp)
}

// A floorShape is one "connection" of the floor operations: the Go
// runtime's work of one X25519 handshake of the Go guest (stdtls) with no
// TLS and no socket, as TestBudget -budget.count counts it per handshake
// (poll calls, runtime.mallocgc, sync.Mutex Lock; a server's connection
// goroutine with one stack growth and its accept loop's two waits). The
// waits are on ready clock pollables; allocs and locks are what the waits
// leave to reach the handshake's counts. See floor.go in the benchmark
// guest and "Measured: the Go runtime's own floor per connection" in
// docs/benchmarks.md.
type floorShape struct {
	kind                 string // client or server
	waits, allocs, locks int
}

var floorShapes = map[string]floorShape{
	"floor":        {kind: "client", waits: 3, allocs: 6, locks: 16},
	"server-floor": {kind: "server", waits: 2, allocs: 8, locks: 23},
}

// floorRun starts the floor guest of sub for op (a key of floorShapes):
// the Go guest's floor mode for wasi-BACKEND, the C guest's (the same host
// calls, no goroutines) for c-BACKEND.
func floorRun(e *env, sub subject, op string, group tls.CurveID) (func(n int) (time.Duration, error), func() error, error) {
	shape := floorShapes[op]
	var g *guest
	var err error
	switch sub.impl {
	case implWASI:
		g, err = e.startGuest(sub.backend, "floor", shape.kind, fmt.Sprint(shape.waits), fmt.Sprint(shape.allocs), fmt.Sprint(shape.locks))
	case implC:
		g, err = e.startCGuest(sub, group, "floor", shape.kind, fmt.Sprint(shape.waits))
	default:
		return nil, nil, fmt.Errorf("bench: %s has no floor (wasi-BACKEND or c-BACKEND)", sub.name)
	}
	if err != nil {
		return nil, nil, err
	}
	return g.counted, g.stop, nil
}

// backendHandshaker runs full handshakes of backend's client, in this
// process, against p's server, as nativeHandshakes does with crypto/tls:
// dial, handshake, read the server's byte, close.
func backendHandshaker(e *env, p peer, backend string, group tls.CurveID) (func(n int) (time.Duration, error), func() error, error) {
	b, err := backends.ByName(backend)
	if err != nil {
		return nil, nil, err
	}
	addr, closeServer, err := p.server(group)
	if err != nil {
		return nil, nil, err
	}
	one := func() error {
		raw, err := net.DialTimeout("tcp4", addr, time.Minute)
		if err != nil {
			return err
		}
		cfg := &backends.ClientConfig{ServerName: serverName, RootCAs: e.roots}
		cfg.Groups = []uint16{uint16(group)}
		c, err := b.Client(raw, cfg)
		if err != nil {
			raw.Close()
			return err
		}
		defer c.Close()
		if err := c.Handshake(context.Background()); err != nil {
			return err
		}
		raw.SetReadDeadline(time.Now().Add(time.Minute))
		_, err = c.Read(make([]byte, 1))
		return err
	}
	run := func(n int) (time.Duration, error) {
		start := time.Now()
		for range n {
			if err := one(); err != nil {
				return 0, fmt.Errorf("bench: %s handshake: %w", backend, err)
			}
		}
		return time.Since(start), nil
	}
	return run, closeServer, nil
}

// budgetInterleaved runs -budget.n operations of each subject in
// -budget.rounds rounds, the subjects taking turns (A B C, B C A, ...),
// and prints each subject's median time per operation with the range of
// the rounds, and the median of the rounds' speed ratios against the
// first subject with their range, and the median of the rounds'
// differences in time per operation against the first subject (the
// subject's time less the first one's in the same round) with their
// range. Where the process's CPU time can be
// read it also prints the median CPU time this process spent per
// operation (every thread: the host, the runtime and its garbage
// collector, not a peer in a subprocess) and its ratio against the first
// subject: on a machine shared with other work it moves less than the
// time does.
func budgetInterleaved(t *testing.T, subs []subject, ops []func(n int) (time.Duration, error)) {
	r := max(*budgetRounds, 1)
	per := max(*budgetN/r, 1)
	times := make([][]float64, len(subs)) // µs per operation, by subject and round
	cpus := make([][]float64, len(subs))  // CPU µs per operation, likewise
	_, haveCPU := processCPU()
	for i := range r {
		for k := range subs {
			j := (k + i) % len(subs)
			c0, _ := processCPU()
			d, err := ops[j](per)
			if err != nil {
				t.Fatal(err)
			}
			c1, _ := processCPU()
			times[j] = append(times[j], float64(d.Nanoseconds())/1e3/float64(per))
			cpus[j] = append(cpus[j], float64((c1-c0).Nanoseconds())/1e3/float64(per))
		}
	}
	fmt.Printf("%s %s, peer %s: %d rounds of %d operations per subject\n", *budgetOp, *budgetGroup, *budgetPeer, r, per)
	for j, sub := range subs {
		line := fmt.Sprintf("%-28s %8.1f µs (%.1f-%.1f)", sub.name, median(slices.Sorted(slices.Values(times[j]))),
			slices.Min(times[j]), slices.Max(times[j]))
		if j > 0 {
			ratios := make([]float64, r)
			for i := range r {
				ratios[i] = times[0][i] / times[j][i]
			}
			slices.Sort(ratios)
			line += fmt.Sprintf("  %.2fx %s (%.2f-%.2f)", median(ratios), subs[0].name, ratios[0], ratios[r-1])
			diffs := make([]float64, r)
			for i := range r {
				diffs[i] = times[j][i] - times[0][i]
			}
			slices.Sort(diffs)
			line += fmt.Sprintf("  %+.1f µs (%+.1f/%+.1f)", median(diffs), diffs[0], diffs[r-1])
		}
		if haveCPU {
			line += fmt.Sprintf("  cpu %.1f µs", median(slices.Sorted(slices.Values(cpus[j]))))
			if j > 0 {
				ratios := make([]float64, r)
				for i := range r {
					ratios[i] = cpus[0][i] / cpus[j][i]
				}
				slices.Sort(ratios)
				line += fmt.Sprintf(" %.2fx (%.2f-%.2f)", median(ratios), ratios[0], ratios[r-1])
			}
		}
		fmt.Println(line)
	}
}
