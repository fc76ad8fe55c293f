package bench

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The idle scenario opens many connections from a child process (this
// program run again with dialerEnv set), so that only the server's memory
// is in the measuring process and each process needs one descriptor per
// connection.

const (
	dialerEnv   = "WASITLS_BENCH_DIALER"    // ADDR,N,GROUP
	dialerCAEnv = "WASITLS_BENCH_DIALER_CA" // PEM
	// dialerSources spreads the child's connections over this many
	// loopback source addresses (127.0.0.2, ...), so that ephemeral ports
	// run out on no single one.
	dialerSources = 8
	// dialerParallel bounds the handshakes in flight.
	dialerParallel = 32
)

// RunChildIfRequested turns the process into the benchmark's connection
// holder or its subprocess peer when it was started as one, and never
// returns then. Programs that
// run the idle scenario (the wasitls command, the package's tests) call it
// first thing in main or TestMain.
func RunChildIfRequested() {
	if os.Getenv(peerEnv) != "" {
		if err := runPeer(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stdout, "error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	spec := os.Getenv(dialerEnv)
	if spec == "" {
		return
	}
	if err := holdConnections(spec, os.Getenv(dialerCAEnv), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stdout, "error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// holdConnections dials N TLS connections to ADDR (each: handshake, one
// byte read), prints "ready", and holds them until stdin ends.
func holdConnections(spec, caPEM string, stdin io.Reader, stdout io.Writer) error {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		return fmt.Errorf("bench: %s=%q: want ADDR,N,GROUP", dialerEnv, spec)
	}
	addr := parts[0]
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return err
	}
	group, err := strconv.ParseUint(parts[2], 10, 16)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return errors.New("bench: no CA certificate")
	}
	raiseFileLimit(uint64(n) + 256)
	cfg := &tls.Config{ServerName: serverName, RootCAs: roots, MinVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.CurveID(group)}}

	sources := dialerSources
	if l, err := net.Listen("tcp4", "127.0.0.2:0"); err != nil {
		sources = 0 // only 127.0.0.1 is configured (not Linux)
	} else {
		l.Close()
	}
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(dialerParallel, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				nd := &net.Dialer{Timeout: time.Minute}
				if sources > 0 {
					nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}
				}
				d := &tls.Dialer{NetDialer: nd, Config: cfg}
				c, err := d.Dial("tcp4", addr)
				if err == nil {
					var b [1]byte
					c.SetReadDeadline(time.Now().Add(time.Minute))
					_, err = io.ReadFull(c, b[:])
					c.SetReadDeadline(time.Time{})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("bench: connection %d: %w", i, err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintln(stdout, "ready", n)
	io.Copy(io.Discard, stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// A holder is a running child process holding connections.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startHolder starts the child and waits until its n connections are
// established.
func (e *env) startHolder(addr string, n int, group tls.CurveID, timeout time.Duration) (*holder, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("%s=%s,%d,%d", dialerEnv, addr, n, uint16(group)),
		dialerCAEnv+"="+string(e.ca.CertPEM()))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &holder{cmd: cmd, stdin: stdin}
	ready := make(chan error, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "ready") {
				ready <- nil
				io.Copy(io.Discard, stdout)
				return
			}
			if strings.HasPrefix(s.Text(), "error:") {
				ready <- errors.New(s.Text())
				return
			}
		}
		ready <- errors.New("bench: connection holder exited")
	}()
	select {
	case err := <-ready:
		if err != nil {
			h.stop()
			return nil, err
		}
		return h, nil
	case <-time.After(timeout):
		h.stop()
		return nil, fmt.Errorf("bench: %d connections not established within %v", n, timeout)
	}
}

// stop closes the child's connections and waits for it.
func (h *holder) stop() {
	h.stdin.Close()
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
}

// memSample is the process's memory at one moment, after garbage
// collection.
type memSample struct {
	heap       uint64 // live Go heap (HeapAlloc); guest linear memory too where guestMemoryOnHeap
	stacks     uint64 // goroutine stacks (StackInuse)
	linear     uint64 // guest linear memory, as the instance reports its size
	rss        uint64
	goroutines int
}

// guestMemoryOnHeap says whether the runtime keeps a guest's linear memory
// on the Go heap: on Linux it is an mmap reservation outside it (see
// runtime/memory_linux.go), elsewhere a Go slice.
const guestMemoryOnHeap = goruntime.GOOS != "linux"

// hostHeap is the live Go heap less the guest's linear memory.
func (s memSample) hostHeap() float64 {
	if guestMemoryOnHeap {
		return float64(s.heap) - float64(s.linear)
	}
	return float64(s.heap)
}

func sampleMemory(linear func() uint64) memSample {
	// Collect, and return freed pages to the OS so that RSS deltas are
	// not hidden by memory an earlier scenario freed.
	debug.FreeOSMemory()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	s := memSample{heap: ms.HeapAlloc, stacks: ms.StackInuse, rss: procStatus("VmRSS"), goroutines: goruntime.NumGoroutine()}
	if linear != nil {
		s.linear = linear()
	}
	return s
}

// IdleResult is the memory cost of idle established connections held by
// one server.
type IdleResult struct {
	Server           string
	Conns            int
	Establish        time.Duration // until the holder had all of them
	HostHeapPerConn  float64       // bytes of Go heap, guest linear memory excluded
	HostStackPerConn float64       // bytes of goroutine stacks
	LinearPerConn    float64       // bytes of guest linear memory
	RSSPerConn       float64
	GoroutinesPer    float64 // host goroutines per connection
	PeakRSS          uint64  // VmHWM of the process during the measurement (see resetPeakRSS)
}

// idle measures n idle connections held by s's server (native crypto/tls
// or a guest).
func (e *env) idle(s subject, n int, group tls.CurveID) (*IdleResult, error) {
	raiseFileLimit(uint64(n) + 1024)
	var addr string
	var stop func() error
	var linear func() uint64
	guestOutput := func() string { return "" }
	if s.native {
		a, closeServer, err := nativeServer(e.serverConfig(group))
		if err != nil {
			return nil, err
		}
		addr, stop = a, closeServer
	} else {
		g, a, err := e.startServerGuest(s, group)
		if err != nil {
			return nil, err
		}
		addr, stop = a, g.kill
		guestOutput = func() string { return "\nguest output:\n" + g.output.String() }
		linear = g.memorySize
	}
	before := sampleMemory(linear)
	resetPeakRSS()
	start := time.Now()
	h, err := e.startHolder(addr, n, group, time.Duration(n)*10*time.Millisecond+time.Minute)
	if err != nil {
		stop()
		return nil, fmt.Errorf("bench: idle %s: %w%s", s.name, err, guestOutput())
	}
	establish := time.Since(start)
	time.Sleep(200 * time.Millisecond) // let the server side settle
	after := sampleMemory(linear)
	res := &IdleResult{
		Server:           s.name,
		Conns:            n,
		Establish:        establish,
		HostHeapPerConn:  (after.hostHeap() - before.hostHeap()) / float64(n),
		HostStackPerConn: (float64(after.stacks) - float64(before.stacks)) / float64(n),
		LinearPerConn:    (float64(after.linear) - float64(before.linear)) / float64(n),
		RSSPerConn:       (float64(after.rss) - float64(before.rss)) / float64(n),
		GoroutinesPer:    float64(after.goroutines-before.goroutines) / float64(n),
	}
	h.stop()
	err = stop()
	res.PeakRSS = procStatus("VmHWM")
	return res, err
}
