package runtime_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// FuzzHostSequences runs short sequences of host calls, on the guest and
// function table of FuzzHostCalls, whose arguments can be the handles the
// earlier calls of the sequence returned: the stateful misuse a hostile
// guest tries (a parent dropped before its child, a double drop, a stream
// used after a client-connection took it, a pollable of a dropped
// subject, finish or accept twice, one resource type where another is
// expected). Two loopback peers the policy lets the guest connect to, an
// echo server and a TLS server whose certificate the host trusts (a test
// CA's), make connections and handshakes progress:
//
//	go test ./runtime -run '^$' -fuzz '^FuzzHostSequences$' -parallel 1
func FuzzHostSequences(f *testing.F) {
	e := seqEnvFor(f)
	for _, s := range seqSeeds(e) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runSequence(t, e, data) })
}

// TestHostSequenceSeeds: every seed reaches its last call (the one meant
// to trap), so each does the misuse its name says rather than trapping
// early, and the committed corpus in testdata/fuzz/FuzzHostSequences is
// the seeds' current encoding (-update-seq-corpus rewrites it).
func TestHostSequenceSeeds(t *testing.T) {
	e := seqEnvFor(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzHostSequences")
	for _, s := range seqSeeds(e) {
		t.Run(s.name, func(t *testing.T) {
			if ran := runSequence(t, e, s.data); ran != s.calls {
				t.Errorf("the guest ended after call %d of %d", ran, s.calls)
			}
			file := filepath.Join(dir, s.name)
			want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.data)) + ")\n"
			if *updateSeqCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := os.ReadFile(file); err != nil || string(got) != want {
				t.Errorf("%s is not the seed's current encoding (%v): run with -update-seq-corpus", file, err)
			}
		})
	}
}

var updateSeqCorpus = flag.Bool("update-seq-corpus", false, "TestHostSequenceSeeds rewrites the FuzzHostSequences seed corpus")

// A sequence input has FuzzHostCalls' layout, except that each parameter
// of a call is a kind byte and its operand:
//
//	backend u8 | patch length u16 | patch | (selector u16 | (kind u8 | operand)...)...
//
// kind%seqKinds chooses the operand and what the parameter gets:
const (
	argRaw       = iota // 8 bytes, the value itself
	argHandle           // 1 byte i: the i-th handle returned so far (mod their count), or i when there is none
	argSmall            // 1 byte: its value
	argPtr              // 1 byte i: patchAt + 8*i, into the fuzzed bytes
	argHandles          // 1 byte i: the address of the i-th entry of the list of handles returned so far
	argLoad             // 1 byte i: the u32 at patchAt + 4*i, such as a result written there
	argEcho             // 1 byte: the echo peer's port
	argTLS              // 1 byte: the TLS peer's port
	argOwn              // 1 byte: a port the guest may listen on and connect to
	argSilent           // 1 byte: the silent peer's port
	argSilentTLS        // 1 byte: the silent TLS peer's port
	seqKinds
)

// seqMaxSteps bounds a sequence: enough for a guest to connect to itself,
// complete a TLS handshake between its two ends and use the connections
// (a post-handshake request, writes past the unsent budget, drops).
const seqMaxSteps = 48

// seqUnsentBytes is the sequence guest's unsent budget
// (runtime.Limits.UnsentBytes): small, so that a few writes to a silent
// peer meet it.
const seqUnsentBytes = 48 << 10

// seqSendLinger is the sequence guest's send linger
// (runtime.Limits.SendLinger): how long a connection dropped holding
// bytes for a silent peer, at the instance's close too, keeps its socket
// and its unsent bytes; short, so that settleGuest sees them given back
// well within its bound.
const seqSendLinger = 100 * time.Millisecond

// handlesAt is where the handles returned so far are written, as u32s,
// before each call (argHandles points into it): a list for poll, say.
const (
	handlesAt  = patchAt + maxPatch
	maxHandles = 256
)

// seqEnv is the hostile guest compiled on one runtime per backend whose
// policy lets it listen on loopback and connect to the two peers.
type seqEnv struct {
	funcs    []importedFunc
	runtimes map[string]*hostileRuntime
	echo     uint16 // the echo peer's port
	tls      uint16 // the TLS peer's port
	own      uint16 // a loopback port, free when the environment was made, the guest may connect to
	// silent reads nothing (its receive buffer small), silentTLS
	// completes a handshake and then reads nothing: the peers a send
	// queue refuses writes for.
	silent, silentTLS uint16
}

var seqOnce = sync.OnceValues(newSeqEnv)

func seqEnvFor(t testing.TB) *seqEnv { return mustEnv(t, seqOnce) }

func newSeqEnv() (*seqEnv, error) {
	ca, err := testpki.NewCA()
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Issue(testpki.LeafOptions{})
	if err != nil {
		return nil, err
	}
	// Copying through plain readers and writers, not TCPConn's ReadFrom:
	// splice(2) keeps pipes in a pool that only the GC closes, which would
	// count as leaked descriptors.
	echo, err := peerListener(func(c net.Conn) { io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c}) })
	if err != nil {
		return nil, err
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, NextProtos: []string{"h2", "http/1.1"}}
	tlsPeer, err := peerListener(func(c net.Conn) {
		tc := tls.Server(c, tlsConfig)
		if tc.Handshake() == nil {
			io.Copy(tc, tc)
		}
	})
	if err != nil {
		return nil, err
	}
	silent, err := peerListener(func(c net.Conn) {
		c.(*net.TCPConn).SetReadBuffer(4096)
		silentPeers.hold()
	})
	if err != nil {
		return nil, err
	}
	silentTLS, err := peerListener(func(c net.Conn) {
		c.(*net.TCPConn).SetReadBuffer(4096)
		if tls.Server(c, tlsConfig).Handshake() == nil {
			silentPeers.hold()
		}
	})
	if err != nil {
		return nil, err
	}
	// A port for the guest to listen on and connect to itself: free now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	own := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	e := &seqEnv{runtimes: map[string]*hostileRuntime{}, echo: echo, tls: tlsPeer, own: own, silent: silent, silentTLS: silentTLS}
	ctx := context.Background()
	for _, b := range hostileBackends {
		policy := new(sockets.Policy)
		if err := policy.AllowListen("127.0.0.1:*"); err != nil {
			return nil, err
		}
		var allowed []string
		for _, port := range []uint16{echo, tlsPeer, own, silent, silentTLS} {
			allowed = append(allowed, "127.0.0.1:"+strconv.Itoa(int(port)))
		}
		if err := policy.AllowConnect(allowed...); err != nil {
			return nil, err
		}
		h, funcs, err := newHostileRuntime(ctx, runtime.Config{
			Network: policy,
			Limits:  runtime.Limits{UnsentBytes: seqUnsentBytes, SendLinger: seqSendLinger},
			Extensions: []runtime.Extension{tlshost.New(tlshost.Config{
				BackendName: b,
				RootCAs:     ca.Pool(),
				// The seeds' server name, so that a guest's own server
				// has an identity its own client trusts.
				Identities: map[string]*backends.Identity{"localhost": leaf.Identity()},
			})},
		})
		if err != nil {
			return nil, err
		}
		e.funcs = funcs
		e.runtimes[b] = h
	}
	return e, nil
}

// peerListener serves each loopback connection with serve, for at most
// a few seconds, and returns the port. It serves for the life of the
// process (the fuzz workers' environments live as long).
func peerListener(serve func(net.Conn)) (uint16, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			peerConns.Add(1)
			go func() {
				defer peerConns.Add(-1)
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				serve(c)
			}()
		}
	}()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

var seqTrace = flag.Bool("seqtrace", false, "FuzzHostSequences logs each call, its outcome and the handles returned so far")

func readAt(mem api.Memory, p, n uint32) []byte {
	b, _ := mem.Read(p, n)
	return b
}

// peerConns counts the connections the peers serve.
var peerConns atomic.Int64

// silentPeers holds the silent peers' connections, reading nothing, until
// runSequence lets them go: after the instance closed and the host let
// go of its sockets and unsent bytes, so that the host's release never
// waits for a peer.
var silentPeers silentHold

type silentHold struct {
	mu   sync.Mutex
	open bool            // between begin and release
	held []chan struct{} // one per connection held
}

// begin opens the peers for an input's connections.
func (s *silentHold) begin() {
	s.mu.Lock()
	s.open = true
	s.mu.Unlock()
}

// hold keeps a connection, reading nothing, until release (or the peers'
// deadline); a connection accepted after release is let go at once.
func (s *silentHold) hold() {
	s.mu.Lock()
	if !s.open {
		s.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	s.held = append(s.held, ch)
	s.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

// release lets every held connection go.
func (s *silentHold) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open = false
	for _, ch := range s.held {
		close(ch)
	}
	s.held = nil
}

// settlePeers waits, at most peerLimit, until the peers serve no
// connection: a connection the guest made must end when the instance is
// closed.
const peerLimit = 3 * time.Second

func settlePeers(t testing.TB) {
	deadline := time.Now().Add(peerLimit)
	for peerConns.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a peer still serves %d connections %v after Close", peerConns.Load(), peerLimit)
		}
		time.Sleep(time.Millisecond)
	}
}

type seqArg struct {
	kind byte
	v    uint64
}

type seqStep struct {
	fn   int
	args []seqArg
}

func decodeSequence(data []byte, nfuncs int, params func(int) int) (backend int, patch []byte, steps []seqStep) {
	backend, patch, data = decodeHeader(data)
	for len(data) >= 2 && len(steps) < seqMaxSteps {
		s := seqStep{fn: int(binary.LittleEndian.Uint16(data)) % nfuncs}
		data = data[2:]
		for range params(s.fn) {
			var a seqArg
			if len(data) > 0 {
				a.kind, data = data[0]%seqKinds, data[1:]
			}
			switch {
			case a.kind == argRaw:
				var b [8]byte
				data = data[copy(b[:], data):]
				a.v = binary.LittleEndian.Uint64(b[:])
			case len(data) > 0:
				a.v, data = uint64(data[0]), data[1:]
			}
			s.args = append(s.args, a)
		}
		steps = append(steps, s)
	}
	return backend, patch, steps
}

// value is the parameter a gets, given the handles returned so far.
func (e *seqEnv) value(a seqArg, handles []uint32, mem api.Memory) uint64 {
	switch a.kind {
	case argHandle:
		if len(handles) == 0 {
			return a.v
		}
		return uint64(handles[int(a.v)%len(handles)])
	case argPtr:
		return patchAt + 8*a.v
	case argHandles:
		return handlesAt + 4*a.v
	case argLoad:
		v, _ := mem.ReadUint32Le(uint32(patchAt + 4*a.v))
		return uint64(v)
	case argEcho:
		return uint64(e.echo)
	case argTLS:
		return uint64(e.tls)
	case argOwn:
		return uint64(e.own)
	case argSilent:
		return uint64(e.silent)
	case argSilentTLS:
		return uint64(e.silentTLS)
	}
	return a.v
}

// liveHandles maps each live handle of the guest's table, up to
// maxProbe, to its resource: a call's new handles are those whose
// resource changed, reused numbers included.
const maxProbe = 1024

func liveHandles(tab *cabi.Table) map[uint32]cabi.Resource {
	live := map[uint32]cabi.Resource{}
	for h := uint32(1); h <= maxProbe; h++ {
		if v, err := tab.Get(h, nil); err == nil {
			live[h] = v
		}
	}
	return live
}

// runSequence runs one input on a fresh instance of the hostile guest,
// with the checks of runHostile and runPreview1: each call returns, traps
// with a *cabi.Trap that is not a host panic or ends the guest; Close
// succeeds; the guest's sockets and unsent bytes are given back while
// the silent peers still hold their ends; the instance's goroutines and
// file descriptors are gone.
func runSequence(t testing.TB, e *seqEnv, data []byte) (ran int) {
	bi, patch, steps := decodeSequence(data, len(e.funcs), func(i int) int { return len(e.funcs[i].params) })
	h := e.runtimes[hostileBackends[bi]]
	settlePeers(t)
	base, fds := goruntime.NumGoroutine(), openFDs()
	ctx := context.Background()
	silentPeers.begin()
	defer silentPeers.release()
	inst, err := h.rt.Instantiate(ctx, h.compiled, runtime.ModuleConfig{})
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	guest := runtime.GuestFrom(inst.Context())
	mem := inst.Module().Memory()
	mem.Write(patchAt, patch)
	tab := inst.Cabi().Table()
	var handles []uint32
	before := liveHandles(tab)
	for _, s := range steps {
		f := e.funcs[s.fn]
		list := make([]byte, 4*maxHandles)
		for i, h := range handles {
			binary.LittleEndian.PutUint32(list[4*i:], h)
		}
		mem.Write(handlesAt, list)
		args := make([]byte, 8*len(s.args))
		for i, a := range s.args {
			binary.LittleEndian.PutUint64(args[8*i:], e.value(a, handles, mem))
		}
		mem.Write(0, args)
		ran++
		blocked, err := guardedCall(inst, f, func() error {
			_, err := inst.Module().ExportedFunction("f" + itoa(s.fn)).Call(inst.Context())
			return err
		})
		if err := acceptable(err); err != nil {
			t.Fatalf("%v(% x) after handles %v: %v", f, args, handles, err)
		}
		if *seqTrace {
			t.Logf("%v(% x): blocked %v, %v; result area % x", f, args, blocked, err, readAt(mem, patchAt+8*pRet, 16))
		}
		if err != nil || blocked || inst.Cabi().Trapped() {
			break // the guest is gone
		}
		after := liveHandles(tab)
		for h := uint32(1); h <= maxProbe; h++ {
			if v, ok := after[h]; ok && len(handles) < maxHandles {
				if old, had := before[h]; !had || old != v {
					handles = append(handles, h)
				}
			}
		}
		before = after
		if *seqTrace {
			t.Logf("  handles %v, fds %d", handles, openFDs())
		}
	}
	if err := inst.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tg := time.Now()
	settleGuest(t, guest)
	if *seqTrace {
		t.Logf("settled: guest %v", time.Since(tg))
	}
	silentPeers.release()
	t0 := time.Now()
	settlePeers(t)
	t1 := time.Now()
	settleGoroutines(t, base)
	t2 := time.Now()
	settleFDs(t, fds)
	if *seqTrace {
		t.Logf("settled: peers %v, goroutines %v, fds %v", t1.Sub(t0), t2.Sub(t1), time.Since(t2))
	}
	return ran
}

// settleGuest waits, at most 10 s, until the closed guest holds no
// socket and no unsent byte counts against its budget, whatever its peers
// do: the silent ones still hold their ends.
func settleGuest(t testing.TB, g *runtime.Guest) {
	deadline := time.Now().Add(10 * time.Second)
	for g.Sockets() > 0 || g.UnsentBytes() > 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("the closed guest still holds %d sockets and %d unsent bytes\n%s", g.Sockets(), g.UnsentBytes(), buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// settleFDs waits, at most 10 s, until the process has no more file
// descriptors open than fds: the peers close their ends once they see the
// guest's closed.
func settleFDs(t testing.TB, fds int) {
	deadline := time.Now().Add(10 * time.Second)
	for n := openFDs(); n > fds; n = openFDs() {
		if time.Now().After(deadline) {
			t.Fatalf("file descriptors leaked: %d > %d: %s", n, fds, fdList())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fdList describes the open file descriptors, where it can.
func fdList() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"->"+target)
	}
	return strings.Join(out, " ")
}

// A seqCall is one call of a seed, by name: "module#function".
type seqCall struct {
	fn   string
	args []seqArg
}

func raw(v uint64) seqArg                    { return seqArg{argRaw, v} }
func hd(i int) seqArg                        { return seqArg{argHandle, uint64(i)} }
func small(v byte) seqArg                    { return seqArg{argSmall, uint64(v)} }
func ptr(i byte) seqArg                      { return seqArg{argPtr, uint64(i)} }
func hlist(i byte) seqArg                    { return seqArg{argHandles, uint64(i)} }
func load(i byte) seqArg                     { return seqArg{argLoad, uint64(i)} }
func echoPort() seqArg                       { return seqArg{argEcho, 0} }
func tlsPort() seqArg                        { return seqArg{argTLS, 0} }
func ownPort() seqArg                        { return seqArg{argOwn, 0} }
func silentPort() seqArg                     { return seqArg{argSilent, 0} }
func silentTLSPort() seqArg                  { return seqArg{argSilentTLS, 0} }
func call(fn string, args ...seqArg) seqCall { return seqCall{fn, args} }

// A seqSeed is a named seed input of calls calls.
type seqSeed struct {
	name  string
	calls int
	data  []byte
}

// A seqCase is a seed's calls.
type seqCase struct {
	name  string
	calls []seqCall
	tls   bool // run on both backends
}

// encode makes the input of calls on backend, over seqPatch.
func (e *seqEnv) encode(backend byte, calls ...seqCall) []byte {
	patch := seqPatch()
	s := encodeHeader(backend, patch)
	for _, c := range calls {
		k := e.index(c.fn)
		s = binary.LittleEndian.AppendUint16(s, uint16(k))
		for i := range e.funcs[k].params {
			a := small(0)
			if i < len(c.args) {
				a = c.args[i]
			}
			s = append(s, a.kind)
			if a.kind == argRaw {
				s = binary.LittleEndian.AppendUint64(s, a.v)
			} else {
				s = append(s, byte(a.v))
			}
		}
	}
	return s
}

func (e *seqEnv) index(fn string) int {
	for i, f := range e.funcs {
		if f.String() == fn {
			return i
		}
	}
	panic("no served function " + fn)
}

// The seeds' patch: the offer slot (see hostileModule) empty, a server
// name at ptr(pName), bytes to write at ptr(pBytes), a list of one ALPN
// id at ptr(pAlpn), result areas from ptr(pRet).
const (
	pName  = 2  // "localhost"
	pBytes = 4  // "GET / HTTP/1.0\r\n\r\n"
	pAlpn  = 32 // a list<string> of one: {ptr(pName), 9}
	pRet   = 64 // result areas, 64 bytes apart: ret(0), ret(1), ...
)

func seqPatch() []byte {
	p := make([]byte, 2048)
	copy(p[8*pName:], "localhost")
	copy(p[8*pBytes:], "GET / HTTP/1.0\r\n\r\n")
	binary.LittleEndian.PutUint32(p[8*pAlpn:], patchAt+8*pName)
	binary.LittleEndian.PutUint32(p[8*pAlpn+4:], 9)
	return p
}

// ret(i) is the i-th result area; retLoad(i, k) the parameter that loads
// its k-th u32.
func ret(i byte) seqArg        { return ptr(pRet + 8*i) }
func retLoad(i, k byte) seqArg { return load(2*(pRet+8*i) + k) }
func name() []seqArg           { return []seqArg{ptr(pName), small(9)} }
func loopback(port seqArg) []seqArg {
	// ip-socket-address ipv4: tag 0, port, 127.0.0.1, then padding.
	return []seqArg{small(0), port, small(127), small(0), small(0), small(1), small(0), small(0), small(0), small(0), small(0), small(0)}
}
func args(parts ...any) []seqArg {
	var out []seqArg
	for _, p := range parts {
		switch p := p.(type) {
		case seqArg:
			out = append(out, p)
		case []seqArg:
			out = append(out, p...)
		}
	}
	return out
}

// Function names of the seeds.
const (
	mTCP     = "wasi:sockets/tcp@0.2.8#"
	mCreate  = "wasi:sockets/tcp-create-socket@0.2.8#create-tcp-socket"
	mNet     = "wasi:sockets/instance-network@0.2.8#instance-network"
	mStreams = "wasi:io/streams@0.2.8#"
	mPoll    = "wasi:io/poll@0.2.8#"
	mNetwork = "wasi:sockets/network@0.2.8#"
	mClock   = "wasi:clocks/monotonic-clock@0.2.8#"
	// instanceNetDrop drops the network.
	instanceNetDrop = mNetwork + "[resource-drop]network"
)

// seqSeeds are the classic stateful cases, each ending in the call that
// traps (a trap ends the guest, so a seed holds at most one), on one
// backend, or on both when wasi:tls is involved. Handle arguments count
// the handles returned so far: after connect, hd(0) is the network, hd(1)
// the socket, hd(2) its pollable, hd(3) and hd(4) its streams.
func seqSeeds(e *seqEnv) []seqSeed {
	tlsM := e.module("wasi:tls/tls@")
	draftM := e.module("wasi:tls/types@")
	ext2M := e.module("wasitls:tls/extensions@0.2.0")
	connect := seqConnect
	seq := func(calls ...[]seqCall) []seqCall {
		var out []seqCall
		for _, c := range calls {
			out = append(out, c...)
		}
		return out
	}
	one := func(c ...seqCall) []seqCall { return c }
	cases := []seqCase{
		// Children before parents, then the dropped ones used.
		{name: "tcp-drop-children-then-parent-then-use", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]output-stream.blocking-write-and-flush", hd(4), ptr(pBytes), small(18), ret(1)),
			call(mStreams+"[method]input-stream.blocking-read", hd(3), small(16), ret(1)),
			call(mPoll+"[resource-drop]pollable", hd(2)),
			call(mStreams+"[resource-drop]input-stream", hd(3)),
			call(mStreams+"[resource-drop]output-stream", hd(4)),
			call(mTCP+"[method]tcp-socket.finish-connect", hd(1), ret(1)),
			call(mTCP+"[method]tcp-socket.shutdown", hd(1), small(2), ret(1)),
			call(mTCP+"[resource-drop]tcp-socket", hd(1)),
			call(mStreams+"[method]output-stream.write", hd(4), ptr(pBytes), small(18), ret(1))))},
		// The streams outlive the socket.
		{name: "tcp-drop-socket-then-use-streams", calls: seq(connect(echoPort()), one(
			call(mPoll+"[resource-drop]pollable", hd(2)),
			call(mTCP+"[resource-drop]tcp-socket", hd(1)),
			call(mStreams+"[method]output-stream.write", hd(4), ptr(pBytes), small(18), ret(1)),
			call(mStreams+"[method]output-stream.blocking-flush", hd(4), ret(1)),
			call(mStreams+"[method]input-stream.subscribe", hd(3)),
			call(mPoll+"[method]pollable.block", hd(5)),
			call(mStreams+"[method]input-stream.read", hd(3), small(32), ret(1)),
			call(mPoll+"[resource-drop]pollable", hd(5)),
			call(mStreams+"[resource-drop]input-stream", hd(3)),
			call(mTCP+"[resource-drop]tcp-socket", hd(1))))},
		{name: "tcp-drop-network-then-connect-again", calls: seq(connect(echoPort()), one(
			call(mTCP+"[method]tcp-socket.start-connect", args(hd(1), hd(0), loopback(echoPort()), ret(1))...),
			call(mTCP+"[method]tcp-socket.finish-connect", hd(1), ret(1)),
			call(instanceNetDrop, hd(0)),
			call(mTCP+"[method]tcp-socket.start-connect", args(hd(1), hd(0), loopback(echoPort()), ret(1))...)))},
		// The second drop takes the handle from finish-connect's result.
		{name: "stream-double-drop", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]input-stream.read", retLoad(0, 1), small(4), ret(1)),
			call(mStreams+"[resource-drop]input-stream", hd(3)),
			call(mStreams+"[resource-drop]input-stream", retLoad(0, 1))))},
		{name: "subscribe-drop-pollable-then-subject-then-poll", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]input-stream.subscribe", hd(3)),
			call(mStreams+"[method]output-stream.subscribe", hd(4)),
			call(mPoll+"poll", hlist(5), small(2), ret(1)),
			call(mPoll+"[resource-drop]pollable", hd(5)),
			call(mStreams+"[resource-drop]input-stream", hd(3)),
			call(mPoll+"poll", hlist(5), small(2), ret(1))))},
		{name: "subscribe-then-drop-subject", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]output-stream.subscribe", hd(4)),
			call(mPoll+"[method]pollable.ready", hd(5)),
			call(mStreams+"[resource-drop]output-stream", hd(4))))},
		{name: "poll-every-handle-type", calls: seq(connect(echoPort()), one(
			call(mPoll+"poll", hlist(0), small(5), ret(1))))},
		{name: "listen-accept-twice-drop-listener", calls: one(
			call(mNet),
			call(mCreate, small(0), ret(0)),
			call(mTCP+"[method]tcp-socket.start-bind", args(hd(1), hd(0), loopback(small(0)), ret(0))...),
			call(mTCP+"[method]tcp-socket.finish-bind", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.start-listen", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.finish-listen", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.finish-listen", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.subscribe", hd(1)),
			call(mTCP+"[method]tcp-socket.accept", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.accept", hd(1), ret(0)),
			call(mPoll+"[method]pollable.ready", hd(2)),
			call(mPoll+"[resource-drop]pollable", hd(2)),
			call(mTCP+"[resource-drop]tcp-socket", hd(1)),
			call(mPoll+"[method]pollable.block", hd(2)))},
		{name: "connect-twice-listen-after-connect", calls: seq(connect(echoPort()), one(
			call(mTCP+"[method]tcp-socket.start-listen", hd(1), ret(1)),
			call(mTCP+"[method]tcp-socket.accept", hd(1), ret(1)),
			call(mTCP+"[method]tcp-socket.start-bind", args(hd(1), hd(0), loopback(small(0)), ret(1))...),
			call(mTCP+"[method]tcp-socket.start-connect", args(hd(1), hd(0), loopback(tlsPort()), ret(1))...),
			call(mTCP+"[method]tcp-socket.finish-connect", hd(1), ret(1)),
			call(mTCP+"[method]tcp-socket.start-connect", args(hd(1), hd(3), loopback(tlsPort()), ret(1))...)))},
		{name: "read-with-output-stream-handle", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]input-stream.read", hd(4), small(4), ret(1))))},
		{name: "splice-into-itself", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]output-stream.splice", hd(4), hd(3), small(8), ret(1)),
			call(mStreams+"[method]output-stream.splice", hd(4), hd(4), raw(1<<40), ret(1))))},
		{name: "huge-handles", calls: seq(connect(echoPort()), one(
			call(mStreams+"[method]input-stream.read", hd(3), raw(1<<62), ret(1)),
			call(mStreams+"[resource-drop]input-stream", raw(0xffffffff))))},
		{name: "huge-handle-31", calls: one(call(mTCP+"[resource-drop]tcp-socket", raw(1<<31)))},
		{name: "drop-handle-zero", calls: one(call(mPoll+"[resource-drop]pollable", raw(0)))},
		// A peer that reads nothing: writes until the send queue refuses
		// them (the unsent budget is seqUnsentBytes), a poll with a
		// deadline, the output dropped holding bytes, then used.
		{name: "silent-writes-past-budget-then-drop", calls: seq(connect(silentPort()), writesPastBudget(1, 3, 4, 1), one(
			call(mStreams+"[method]output-stream.flush", hd(4), ret(2)),
			checkWrite(4), writePermit(4),
			call(mPoll+"[resource-drop]pollable", hd(5)),
			call(mStreams+"[resource-drop]output-stream", hd(4)),
			call(mStreams+"[method]input-stream.read", hd(3), small(16), ret(2)),
			call(mPoll+"poll", hlist(6), small(2), ret(2)),
			call(mTCP+"[method]tcp-socket.shutdown", hd(1), small(2), ret(2)),
			call(mStreams+"[method]output-stream.write", hd(4), raw(0), small(4), ret(2))))},
	}
	if tlsM != "" {
		handshake := func() []seqCall { return tlsHandshake(tlsM) }
		// After handshake: hd(5) the client-connection, hd(6) the
		// handshake (moved), hd(7) the future, hd(8) its pollable, hd(9)
		// and hd(10) the TLS streams.
		cases = append(cases,
			seqCase{tls: true, name: "tls-constructor-streams-moved-then-read", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]client-connection", hd(3), hd(4)),
				call(mStreams+"[method]input-stream.read", hd(3), small(4), ret(1))))},
			seqCase{tls: true, name: "tls-constructor-streams-moved-then-dropped", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]client-connection", hd(3), hd(4)),
				call(mStreams+"[resource-drop]output-stream", hd(4))))},
			seqCase{tls: true, name: "tls-constructor-same-stream-twice", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]client-connection", hd(3), hd(3))))},
			seqCase{tls: true, name: "tls-constructor-streams-swapped", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]server-connection", hd(4), hd(3))))},
			seqCase{tls: true, name: "tls-connect-twice-finish-twice", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]client-connection", hd(3), hd(4)),
				call(tlsM+"[method]client-connection.connect", args(hd(5), name(), ret(1))...),
				call(tlsM+"[method]client-connection.connect", args(hd(5), name(), ret(2))...),
				call(tlsM+"[method]client-handshake.configure-alpn-ids", hd(6), ptr(pAlpn), small(1)),
				call(tlsM+"[static]client-handshake.finish", hd(6)),
				call(tlsM+"[static]client-handshake.finish", hd(6))))},
			seqCase{tls: true, name: "tls-abort-then-finish", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]client-connection", hd(3), hd(4)),
				call(tlsM+"[method]client-connection.connect", args(hd(5), name(), ret(1))...),
				call(tlsM+"[static]client-handshake.abort", hd(6)),
				call(tlsM+"[method]client-connection.connect", args(hd(5), name(), ret(2))...),
				call(tlsM+"[static]client-handshake.finish", hd(6))))},
			seqCase{tls: true, name: "tls-drop-connection-mid-handshake", calls: seq(connect(tlsPort()), one(
				call(tlsM+"[constructor]client-connection", hd(3), hd(4)),
				call(tlsM+"[method]client-connection.connect", args(hd(5), name(), ret(1))...),
				call(tlsM+"[static]client-handshake.finish", hd(6)),
				call(tlsM+"[method]future-streams.subscribe", hd(7)),
				call(mPoll+"[resource-drop]pollable", hd(8)),
				call(tlsM+"[resource-drop]future-streams", hd(7)),
				call(tlsM+"[resource-drop]client-connection", hd(5)),
				call(tlsM+"[method]future-streams.get", hd(7), ret(2))))},
			seqCase{tls: true, name: "tls-streams-used-then-connection-dropped", calls: seq(handshake(), one(
				call(mStreams+"[method]output-stream.blocking-write-and-flush", hd(10), ptr(pBytes), small(18), ret(3)),
				call(mStreams+"[method]input-stream.blocking-read", hd(9), small(32), ret(3)),
				call(tlsM+"[method]future-streams.get", hd(7), ret(4)),
				call(tlsM+"[resource-drop]client-connection", hd(5))))},
			seqCase{tls: true, name: "tls-drop-future-then-streams-then-connection", calls: seq(handshake(), one(
				call(mPoll+"[resource-drop]pollable", hd(8)),
				call(tlsM+"[resource-drop]future-streams", hd(7)),
				call(mStreams+"[method]output-stream.write", hd(10), ptr(pBytes), small(18), ret(3)),
				call(tlsM+"[resource-drop]client-connection", hd(5))))},
			seqCase{tls: true, name: "tls-drop-socket-under-connection", calls: seq(handshake(), one(
				call(mPoll+"[resource-drop]pollable", hd(2)),
				call(mTCP+"[resource-drop]tcp-socket", hd(1)),
				call(mStreams+"[method]input-stream.read", hd(9), small(32), ret(3)),
				call(tlsM+"[resource-drop]future-streams", hd(10))))},
			seqCase{tls: true, name: "tls-server-over-echo-abort-then-finish", calls: seq(connect(echoPort()), one(
				call(tlsM+"[constructor]server-connection", hd(3), hd(4)),
				call(tlsM+"[method]server-connection.accept", hd(5), ret(1)),
				call(tlsM+"[method]server-connection.accept", hd(5), ret(1)),
				call(tlsM+"[method]server-handshake.receive-client-hello", hd(6), ret(2)),
				call(tlsM+"[method]future-client-hello.subscribe", hd(7)),
				call(mPoll+"[method]pollable.ready", hd(8)),
				call(mPoll+"[resource-drop]pollable", hd(8)),
				call(tlsM+"[static]server-handshake.abort", hd(6)),
				call(tlsM+"[static]server-handshake.finish", hd(6))))},
		)
	}
	if tlsM != "" && ext2M != "" {
		// The guest connects to itself and shakes hands with itself: a
		// client-connection on one end, a server-connection with the
		// host's identity on the accepted one, both handshakes driven by
		// one poll. After it: hd(0) the network, hd(1) the listener, hd(2)
		// the client socket, hd(6) the listener's pollable, hd(7) the
		// accepted socket, hd(10) the client-connection, hd(13) the
		// server-connection, hd(15) the identity, hd(16) the server's
		// future, hd(19), hd(20) the client's TLS streams.
		self := one(
			call(mNet),
			call(mCreate, small(0), ret(0)),
			call(mTCP+"[method]tcp-socket.start-bind", args(hd(1), hd(0), loopback(ownPort()), ret(0))...),
			call(mTCP+"[method]tcp-socket.finish-bind", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.start-listen", hd(1), ret(0)),
			call(mTCP+"[method]tcp-socket.finish-listen", hd(1), ret(0)),
			call(mCreate, small(0), ret(0)),
			call(mTCP+"[method]tcp-socket.start-connect", args(hd(2), hd(0), loopback(ownPort()), ret(0))...),
			call(mTCP+"[method]tcp-socket.subscribe", hd(2)),
			call(mPoll+"[method]pollable.block", hd(3)),
			call(mTCP+"[method]tcp-socket.finish-connect", hd(2), ret(0)),
			call(mTCP+"[method]tcp-socket.subscribe", hd(1)),
			call(mPoll+"[method]pollable.block", hd(6)),
			call(mTCP+"[method]tcp-socket.accept", hd(1), ret(1)),
			call(tlsM+"[constructor]client-connection", hd(4), hd(5)),
			call(tlsM+"[method]client-connection.connect", args(hd(10), name(), ret(2))...),
			call(tlsM+"[static]client-handshake.finish", hd(11)),
			call(tlsM+"[constructor]server-connection", hd(8), hd(9)),
			call(tlsM+"[method]server-connection.accept", hd(13), ret(3)),
			call(ext2M+"host-identity", args(name(), ret(4))...),
			call(tlsM+"[method]server-handshake.configure-server-identities", hd(14), hlist(15), small(1)),
			call(tlsM+"[static]server-handshake.finish", hd(14)),
			call(tlsM+"[method]future-streams.subscribe", hd(12)),
			call(tlsM+"[method]future-streams.subscribe", hd(16)),
			call(mPoll+"poll", hlist(17), small(2), ret(5)),
			call(mPoll+"[method]pollable.block", hd(17)),
			call(tlsM+"[method]future-streams.get", hd(12), ret(5)),
		)
		cases = append(cases,
			seqCase{tls: true, name: "self-tls-then-drop-listener-under-accepted", calls: seq(self, one(
				call(mStreams+"[method]output-stream.blocking-write-and-flush", hd(20), ptr(pBytes), small(18), ret(6)),
				call(mPoll+"[resource-drop]pollable", hd(6)),
				call(mTCP+"[resource-drop]tcp-socket", hd(1)),
				call(mTCP+"[method]tcp-socket.shutdown", hd(7), small(2), ret(6)),
				call(mTCP+"[method]tcp-socket.accept", hd(1), ret(6))))},
			seqCase{tls: true, name: "self-tls-then-drop-server-connection-with-future", calls: seq(self, one(
				call(tlsM+"[resource-drop]private-identity", hd(15)),
				call(tlsM+"[resource-drop]server-connection", hd(13))))},
			// The server asks for the client's identity after the
			// handshake while the client writes past the unsent
			// budget to a server that does not read; the client
			// reads (meeting the request) and polls with a
			// deadline, both sides close their output, the client
			// drops its output, and the server connection is
			// dropped under its future and its request.
			seqCase{tls: true, name: "self-tls-post-handshake-request-then-drops", calls: seq(self, one(
				call(tlsM+"[method]server-connection.request-client-identity", hd(13), ret(7)),
				checkWrite(20), writePermit(20), checkWrite(20), writePermit(20),
				checkWrite(20), writePermit(20), checkWrite(20), writePermit(20),
				call(mStreams+"[method]input-stream.read", hd(19), small(64), ret(6)),
				call(mClock+"subscribe-duration", raw(uint64(time.Millisecond))),
				call(mStreams+"[method]output-stream.subscribe", hd(20)),
				call(mPoll+"poll", hlist(17), small(2), ret(6)),
				call(ext2M+"close-server-output", hd(13), ret(6)),
				call(ext2M+"close-client-output", hd(10), ret(6)),
				call(mStreams+"[method]input-stream.read", hd(19), small(64), ret(6)),
				call(mPoll+"[resource-drop]pollable", hd(18)),
				call(mStreams+"[resource-drop]output-stream", hd(20)),
				call(tlsM+"[resource-drop]server-connection", hd(13))))},
		)
	}
	if tlsM != "" && ext2M != "" {
		// A TLS peer that reads nothing after its handshake: the guest
		// writes past the unsent budget, polls with a deadline, drops its
		// output holding bytes (pushed through the engine), closes the
		// output and drops the connection.
		cases = append(cases, seqCase{tls: true, name: "tls-silent-writes-past-budget-then-drops", calls: seq(tlsHandshakeTo(tlsM, silentTLSPort()), writesPastBudget(1, 9, 10, 3), one(
			call(mStreams+"[method]input-stream.read", hd(9), small(32), ret(3)),
			call(mStreams+"[resource-drop]output-stream", hd(10)),
			call(ext2M+"close-client-output", hd(5), ret(3)),
			call(mPoll+"poll", hlist(11), small(3), ret(4)),
			call(mStreams+"[resource-drop]input-stream", hd(9)),
			call(mPoll+"[resource-drop]pollable", hd(8)),
			call(tlsM+"[resource-drop]future-streams", hd(7)),
			call(tlsM+"[resource-drop]client-connection", hd(5)),
			call(ext2M+"client-last-error", hd(5), ret(3))))},
			// Calls that wait on the silent TLS peer, ended by the
			// instance's close as they wait (the hang guard): a read
			// that meets only what the handshake left, and a flush of
			// a full permit's worth the peer never takes.
			seqCase{tls: true, name: "tls-silent-blocking-read-closed", calls: seq(tlsHandshakeTo(tlsM, silentTLSPort()), one(
				call(mStreams+"[method]input-stream.blocking-read", hd(9), small(32), ret(3))))},
			seqCase{tls: true, name: "tls-silent-blocking-flush-closed", calls: seq(tlsHandshakeTo(tlsM, silentTLSPort()), one(
				call(mTCP+"[method]tcp-socket.set-send-buffer-size", hd(1), raw(4096), ret(3)),
				checkWrite(10), writePermit(10),
				call(mStreams+"[method]output-stream.blocking-flush", hd(10), ret(3))))})
	}
	if tlsM != "" && ext2M != "" {
		// The extensions on a connection whose output is closed, whose
		// streams and future are gone, and at last on a dropped one.
		cases = append(cases, seqCase{tls: true, name: "tls-extensions-after-close-output-and-drop", calls: seq(tlsHandshake(tlsM), one(
			call(ext2M+"close-client-output", hd(5), ret(3)),
			call(ext2M+"close-client-output", hd(5), ret(3)),
			call(mStreams+"[method]output-stream.write", hd(10), ptr(pBytes), small(18), ret(3)),
			call(ext2M+"client-negotiated-group", hd(5), ret(3)),
			call(ext2M+"export-client-keying-material", hd(5), ptr(pName), small(9), small(1), ptr(pBytes), small(4), small(32), ret(3)),
			call(ext2M+"client-last-error", hd(5), ret(3)),
			call(mStreams+"[resource-drop]input-stream", hd(9)),
			call(mStreams+"[resource-drop]output-stream", hd(10)),
			call(mPoll+"[resource-drop]pollable", hd(8)),
			call(tlsM+"[resource-drop]future-streams", hd(7)),
			call(ext2M+"export-client-keying-material", hd(5), ptr(pName), small(9), small(0), small(0), small(0), raw(1<<32-1), ret(3)),
			call(tlsM+"[resource-drop]client-connection", hd(5)),
			call(ext2M+"client-last-error", hd(5), ret(3))))})
	}
	if draftM != "" {
		cases = append(cases,
			seqCase{tls: true, name: "draft-handshake-close-output-twice-then-drop-parent", calls: seq(connect(tlsPort()), one(
				call(draftM+"[constructor]client-handshake", args(name(), hd(3), hd(4))...),
				call(draftM+"[static]client-handshake.finish", hd(5)),
				call(draftM+"[method]future-client-streams.subscribe", hd(6)),
				call(mPoll+"[method]pollable.block", hd(7)),
				call(draftM+"[method]future-client-streams.get", hd(6), ret(2)),
				call(draftM+"[method]client-connection.close-output", hd(8)),
				call(draftM+"[method]client-connection.close-output", hd(8)),
				call(mStreams+"[method]output-stream.write", hd(10), ptr(pBytes), small(18), ret(3)),
				call(draftM+"[resource-drop]client-connection", hd(8))))},
			seqCase{tls: true, name: "draft-drop-handshake-then-future", calls: seq(connect(tlsPort()), one(
				call(draftM+"[constructor]client-handshake", args(name(), hd(3), hd(4))...),
				call(draftM+"[resource-drop]client-handshake", hd(5)),
				call(draftM+"[static]client-handshake.finish", hd(5))))},
		)
	}
	var seeds []seqSeed
	for i, c := range cases {
		if len(c.calls) > seqMaxSteps {
			panic(c.name + ": too many calls")
		}
		for b := range hostileBackends {
			if b != i%2 && !c.tls {
				continue
			}
			seeds = append(seeds, seqSeed{c.name + "-" + hostileBackends[b], len(c.calls), e.encode(byte(b), c.calls...)})
		}
	}
	return seeds
}

// checkWrite asks the output stream hd(i) how much it may write, into
// ret(1); writePermit writes that much from address 0 (the result's low
// u32: a write past the unsent budget is granted less, down to nothing).
func checkWrite(i int) seqCall {
	return call(mStreams+"[method]output-stream.check-write", hd(i), ret(1))
}

func writePermit(i int) seqCall {
	return call(mStreams+"[method]output-stream.write", hd(i), raw(0), retLoad(1, 2), ret(2))
}

// writesPastBudget sets the send buffer of the socket hd(sock) to 4 KiB
// (its result into ret(r)) and writes six permits through the output
// stream hd(out), past the unsent budget to a peer that reads nothing;
// then it subscribes to hd(out), a 1 ms clock and the input stream
// hd(in), the pollables hd(out+1) to hd(out+3), and polls them, the
// result into ret(r+1).
func writesPastBudget(sock, in, out int, r byte) []seqCall {
	calls := []seqCall{call(mTCP+"[method]tcp-socket.set-send-buffer-size", hd(sock), raw(4096), ret(r))}
	for range 6 {
		calls = append(calls, checkWrite(out), writePermit(out))
	}
	return append(calls,
		call(mStreams+"[method]output-stream.subscribe", hd(out)),
		call(mClock+"subscribe-duration", raw(uint64(time.Millisecond))),
		call(mStreams+"[method]input-stream.subscribe", hd(in)),
		call(mPoll+"poll", hlist(byte(out+1)), small(3), ret(r+1)))
}

// tlsHandshake connects to the TLS peer and completes a handshake through
// the wasi:tls module m: after it, hd(5) is the client-connection, hd(6)
// the handshake (moved), hd(7) the future, hd(8) its pollable, hd(9) and
// hd(10) the TLS streams.
func tlsHandshake(m string) []seqCall { return tlsHandshakeTo(m, tlsPort()) }

// tlsHandshakeTo is tlsHandshake with the peer at port.
func tlsHandshakeTo(m string, port seqArg) []seqCall {
	return append(seqConnect(port),
		call(m+"[constructor]client-connection", hd(3), hd(4)),
		call(m+"[method]client-connection.connect", args(hd(5), name(), ret(1))...),
		call(m+"[static]client-handshake.finish", hd(6)),
		call(m+"[method]future-streams.subscribe", hd(7)),
		call(mPoll+"[method]pollable.block", hd(8)),
		call(m+"[method]future-streams.get", hd(7), ret(2)))
}

// seqConnect connects to a peer's port: after it, hd(0) is the network,
// hd(1) the socket, hd(2) its pollable, hd(3) and hd(4) its streams.
func seqConnect(port seqArg) []seqCall {
	return []seqCall{
		call(mNet),
		call(mCreate, small(0), ret(0)),
		call(mTCP+"[method]tcp-socket.start-connect", args(hd(1), hd(0), loopback(port), ret(0))...),
		call(mTCP+"[method]tcp-socket.subscribe", hd(1)),
		call(mPoll+"[method]pollable.block", hd(2)),
		call(mTCP+"[method]tcp-socket.finish-connect", hd(1), ret(0)),
	}
}

// module returns the served module whose name starts with prefix, with
// "#", or "" when none is served.
func (e *seqEnv) module(prefix string) string {
	for _, f := range e.funcs {
		if len(f.module) >= len(prefix) && f.module[:len(prefix)] == prefix {
			return f.module + "#"
		}
	}
	return ""
}

// newHostileRuntime makes a runtime over a wazero runtime of its own and
// compiles the hostile guest of the functions it serves.
func newHostileRuntime(ctx context.Context, c runtime.Config) (*hostileRuntime, []importedFunc, error) {
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig())
	rt, err := runtime.New(ctx, r, c)
	if err != nil {
		return nil, nil, err
	}
	funcs := served(rt, r)
	compiled, err := r.CompileModule(ctx, hostileModule(funcs))
	if err != nil {
		return nil, nil, err
	}
	return &hostileRuntime{r: r, rt: rt, compiled: compiled}, funcs, nil
}
