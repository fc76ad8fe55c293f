package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// The soak runs a guest echo server on each backend at once, under mixed
// load from native clients, and samples the host process at quiet points:
// every interval the load pauses, the connections in flight finish, the
// guest servers let go of them, a GC runs and returns the freed memory
// to the system, and then the process's RSS, live heap, goroutines, open
// descriptors and the guests' resource-table entries are read. Between quiet points nothing is held on purpose, so a
// series that grows is a leak, not load.

// SoakOptions configure [Soak]. Zero fields take the defaults.
type SoakOptions struct {
	// Duration of the whole run, every backend at once.
	Duration time.Duration
	// Interval between samples; 10 s by default.
	Interval time.Duration
	// Backends each serve one guest; every registered backend by default.
	Backends []string
	// Workers is the number of clients running the fast kinds of
	// connection at once; 3 by default. Two more hold a silent and a
	// half-ClientHello connection each.
	Workers int
	// HandshakeTimeout is the wasi:tls host's handshake timeout; 2 s by
	// default, so that the silent and half-ClientHello peers meet it. (At
	// 1 s, on a starved machine, a server handshake sometimes expired
	// after its client had finished, and the client's first bulk or echo
	// write met a closed connection.)
	HandshakeTimeout time.Duration
	// SlowHold is how long a silent or half-ClientHello peer waits for the
	// server to give up; a peer still connected then counts as an
	// unexpected outcome. The handshake timeout + 8 s by default: the
	// peer counts from its connect, so the hold also takes the guest's
	// accept, which waits behind the connections the guest is serving,
	// and the lateness of the host's timer; on a starved machine (load 15
	// on 2 cores) these took more than 2 s. A server that never gives up
	// still fails.
	SlowHold time.Duration
	// BulkBytes is the size echoed each way by a bulk connection; 256 KiB
	// by default.
	BulkBytes int
	// Group is the key-exchange group; X25519MLKEM768 by default.
	Group tls.CurveID
	// Progress, if set, receives a line per sample as it is taken.
	Progress io.Writer
}

func (o *SoakOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if len(o.Backends) == 0 {
		o.Backends = backends.Names()
	}
	if o.Workers <= 0 {
		o.Workers = 3
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 2 * time.Second
	}
	if o.SlowHold <= 0 {
		o.SlowHold = o.HandshakeTimeout + 8*time.Second
	}
	if o.BulkBytes <= 0 {
		o.BulkBytes = 256 << 10
	}
	if o.Group == 0 {
		o.Group = tls.X25519MLKEM768
	}
}

// A SoakSample is the host process at one quiet point.
type SoakSample struct {
	Elapsed    time.Duration
	RSS        uint64 // bytes
	Heap       uint64 // live Go heap after a GC, bytes (the runtime keeps guest memory off it)
	Guest      uint64 // the guests' linear memories, bytes
	Goroutines int
	FDs        int // open file descriptors
	Table      int // live handles in the guests' resource tables, all together
	Conns      int // connections made so far
}

// Soak runs the soak and returns its report. The error is for a soak that
// could not run or whose server died; growth and unexpected errors are in
// the report ([SoakReport.Failures]).
func Soak(opts SoakOptions) (*SoakReport, error) {
	opts.defaults()
	for _, b := range opts.Backends {
		if _, err := backends.ByName(b); err != nil {
			return nil, fmt.Errorf("bench: soak: %w", err)
		}
	}
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	e.handshakeTimeout = opts.HandshakeTimeout
	raiseFileLimit(4096)

	var servers []*guest
	var addrs []string
	defer func() {
		for _, g := range servers {
			g.kill()
		}
	}()
	for _, b := range opts.Backends {
		g, err := e.startGuest(b, "echo-server", string(implWASI), groupArg(opts.Group))
		if err != nil {
			return nil, err
		}
		servers = append(servers, g)
		addr, err := g.expect("listening ", time.Minute)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	hello, err := clientHello(e.clientConfig(opts.Group))
	if err != nil {
		return nil, err
	}
	l := &soakLoad{
		opts: opts, addrs: addrs, cfg: e.clientConfig(opts.Group),
		halfHello: hello[:len(hello)/2], stats: newSoakStats(), quiet: make(chan struct{}),
	}
	r := &SoakReport{Options: opts}
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "soak: %v, guest servers on %v, %v, handshake timeout %v, %d workers, a sample every %v at a quiet point\n",
			opts.Duration, opts.Backends, opts.Group, opts.HandshakeTimeout, opts.Workers, opts.Interval)
		fmt.Fprintln(opts.Progress, sampleHeader)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	l.start(&wg, stop)
	start := time.Now()
	sample := func() error {
		l.pause()
		defer l.resume()
		s := quietSample(servers)
		s.Elapsed, s.Conns = time.Since(start), l.stats.total()
		r.Samples = append(r.Samples, s)
		if opts.Progress != nil {
			fmt.Fprintln(opts.Progress, s.line())
		}
		return serversAlive(servers, opts.Backends)
	}
	var runErr error
	if runErr = sample(); runErr == nil {
		tick := time.NewTicker(opts.Interval)
		end := time.After(opts.Duration)
	loop:
		for {
			select {
			case <-tick.C:
				if runErr = sample(); runErr != nil {
					break loop
				}
			case <-end:
				runErr = sample()
				break loop
			}
		}
		tick.Stop()
	}
	close(stop)
	wg.Wait()
	r.Kinds = l.stats.snapshot()
	r.Elapsed = time.Since(start)
	r.analyse()
	return r, runErr
}

// serversAlive reports a guest server that exited.
func serversAlive(servers []*guest, names []string) error {
	for i, g := range servers {
		select {
		case err := <-g.done:
			g.done <- err
			return fmt.Errorf("bench: soak: the guest server on %s exited (%v); its output:\n%s", names[i], err, g.output.String())
		default:
		}
	}
	return nil
}

// quietSample waits, for at most 5 s, until the guests' tables and the
// goroutine count stop changing (the servers finished with the last
// connections), then reads the process after a GC.
func quietSample(servers []*guest) SoakSample {
	read := func() (int, int) {
		n := 0
		for _, g := range servers {
			n += g.tableLen()
		}
		return n, goruntime.NumGoroutine()
	}
	deadline := time.Now().Add(5 * time.Second)
	table, gor := read()
	for steady := 0; steady < 3 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		t, g := read()
		if t == table && g == gor {
			steady++
		} else {
			steady = 0
		}
		table, gor = t, g
	}
	// Three collections: the first empties sync.Pools into their victim
	// caches and queues finalizers, the next ones free what those held.
	// FreeOSMemory's collection is the third, and it returns the freed
	// memory to the system, so that RSS is what the process holds, not
	// the high-water mark of the garbage since the last sample: the
	// runtime keeps freed pages up to about the heap goal, twice the live
	// heap, and under load the RSS of a process with 170 MiB live swung
	// between 314 and 450 MiB from one quiet point to the next.
	for range 2 {
		goruntime.GC()
	}
	debug.FreeOSMemory()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	var linear uint64
	for _, g := range servers {
		linear += g.memorySize()
	}
	return SoakSample{
		RSS: procStatus("VmRSS"), Heap: ms.HeapAlloc, Guest: linear,
		Goroutines: goruntime.NumGoroutine(), FDs: openFDs(), Table: table,
	}
}

// openFDs counts the process's open file descriptors, -1 where
// /proc/self/fd cannot be read.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read
}

const sampleHeader = "     time    rss MiB   heap MiB  guest MiB  goroutines    fds  table  connections"

func (s SoakSample) line() string {
	return fmt.Sprintf("%9v %10.1f %10.1f %10.1f %11d %6d %6d %12d", s.Elapsed.Round(time.Second),
		inMiB(s.RSS), inMiB(s.Heap), inMiB(s.Guest), s.Goroutines, s.FDs, s.Table, s.Conns)
}

func inMiB(b uint64) float64 { return float64(b) / (1 << 20) }

// clientHello returns the bytes of a ClientHello record cfg produces.
func clientHello(cfg *tls.Config) ([]byte, error) {
	rec := &recorder{}
	c := tls.Client(rec, cfg)
	err := c.Handshake()
	if len(rec.out) < 10 {
		return nil, fmt.Errorf("bench: no ClientHello captured: %w", err)
	}
	return slices.Clone(rec.out), nil
}

// recorder is a connection that keeps what is written and fails reads.
type recorder struct {
	fakeConn
	out []byte
}

func (r *recorder) Write(b []byte) (int, error) { r.out = append(r.out, b...); return len(b), nil }
func (r *recorder) Read([]byte) (int, error)    { return 0, errors.New("recorder: no peer") }
