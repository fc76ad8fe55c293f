package runtime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/runtime"
)

// p1Env is a runtime with the preview1 hostile guest compiled: the
// guest of FuzzHostCalls (see hostileModule), importing every function of
// the runtime's wasi_snapshot_preview1 instead.
type p1Env struct {
	funcs    []importedFunc
	rt       *runtime.Runtime
	compiled wazero.CompiledModule
}

// p1Once makes the one p1Env every fuzz input shares.
var p1Once = sync.OnceValues(newP1Env)

func p1EnvFor(t testing.TB) *p1Env { return mustEnv(t, p1Once) }

func newP1Env() (*p1Env, error) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig())
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		return nil, err
	}
	e := &p1Env{rt: rt, funcs: preview1Funcs(r)}
	if e.compiled, err = r.CompileModule(ctx, hostileModule(e.funcs)); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *p1Env) index(name string) int {
	for i, f := range e.funcs {
		if f.name == name {
			return i
		}
	}
	panic("no preview1 function " + name)
}

// A preview1 input has FuzzHostCalls' layout; its first byte chooses, by
// bit, an idle pipe as standard input (bit 0) and a read-only preopen
// (bit 1).
const (
	p1IdleStdin = 1 << iota
	p1ReadOnly
)

// p1Tree is the host directory tree of one run: the preopen and, next to
// it, a directory the guest must not reach.
type p1Tree struct{ root, pre, outside string }

const p1Secret = "not for the guest"

func newP1Tree(t testing.TB) p1Tree {
	root := t.TempDir()
	tr := p1Tree{root: root, pre: filepath.Join(root, "pre"), outside: filepath.Join(root, "outside")}
	for _, d := range []string{tr.pre, tr.outside, filepath.Join(tr.pre, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, data := range map[string]string{
		filepath.Join(tr.pre, "file.txt"):     "hello preview1",
		filepath.Join(tr.pre, "sub", "a.txt"): "a",
		filepath.Join(tr.outside, "secret"):   p1Secret,
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// check fails unless everything outside the preopen is as newP1Tree left it.
func (tr p1Tree) check(t testing.TB) {
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(tr.root); !slices.Equal(got, []string{"outside", "pre"}) {
		t.Fatalf("the guest changed the preopen's parent: %q", got)
	}
	if got := names(tr.outside); !slices.Equal(got, []string{"secret"}) {
		t.Fatalf("the guest changed a directory beside the preopen: %q", got)
	}
	fi, err := os.Lstat(filepath.Join(tr.outside, "secret"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the file beside the preopen: %v %v", fi, err)
	}
	if data, err := os.ReadFile(filepath.Join(tr.outside, "secret")); err != nil || string(data) != p1Secret {
		t.Fatalf("the file beside the preopen: %q %v", data, err)
	}
}

// openFDs counts the process's open file descriptors; -1 where it cannot.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// runPreview1 runs one input on a fresh instance of the preview1 hostile
// guest over a preopen in a temporary directory. Each call, through
// Instance.Call, must return or end the guest (an exit, or the instance
// closed because the call blocked): a trap is a host function's panic. Afterwards nothing beside
// the preopen has changed and the instance's goroutines and files are
// gone.
func runPreview1(t testing.TB, e *p1Env, data []byte) {
	mode, patch, steps := decodeHostile(data, len(e.funcs), func(i int) int { return len(e.funcs[i].params) })
	if len(data) > 0 {
		mode = int(data[0])
	}
	tr := newP1Tree(t)
	base, fds := goruntime.NumGoroutine(), openFDs()
	ctx := context.Background()
	var stdin io.Reader = strings.NewReader("standard input\n")
	pr, pw := io.Pipe()
	defer pw.Close()
	if mode&p1IdleStdin != 0 {
		stdin = pr
	}
	var stdout, stderr bytes.Buffer
	inst, err := e.rt.Instantiate(ctx, e.compiled, runtime.ModuleConfig{
		Args:   []string{"guest", "--flag", "arg"},
		Env:    []string{"HOME=/", "K=v"},
		Stdin:  stdin,
		Stdout: &stdout,
		Stderr: &stderr,
		Dirs:   []runtime.Dir{{Host: tr.pre, Guest: "/data", ReadOnly: mode&p1ReadOnly != 0}},
	})
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	mem := inst.Module().Memory()
	mem.Write(patchAt, patch)
	for _, s := range steps {
		f := e.funcs[s.fn]
		mem.Write(0, s.args)
		blocked, err := guardedCall(inst, f, func() error {
			_, err := inst.Call("f" + itoa(s.fn))
			return err
		})
		// A call the budget's Close ended (on a loaded machine, any slow
		// call) ends stopped, or refused as closed if the close came
		// between two of its host calls.
		var exit *sys.ExitError
		if err != nil && !errors.As(err, &exit) && !(blocked && (errors.Is(err, runtime.ErrStopped) || errors.Is(err, runtime.ErrClosed))) {
			t.Fatalf("%v(% x): neither a result nor an exit: %v", f, s.args, err)
		}
		if err != nil || blocked {
			break // the guest is gone
		}
	}
	if err := inst.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pw.Close()
	settleGoroutines(t, base)
	if n := openFDs(); n > fds {
		t.Fatalf("file descriptors leaked: %d > %d", n, fds)
	}
	tr.check(t)
}

// FuzzPreview1Calls calls every function of the runtime's
// wasi_snapshot_preview1 from a guest whose memory and arguments are
// fuzzed, over a preopen directory, with standard input and output:
//
//	go test ./runtime -run '^$' -fuzz FuzzPreview1Calls -fuzztime 10m
func FuzzPreview1Calls(f *testing.F) {
	e := p1EnvFor(f)
	for _, seed := range preview1Seeds(e) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runPreview1(t, e, data) })
}

// The seeds' guest memory, at patchAt: paths, an iovec, a clock
// subscription.
const (
	p1File     = patchAt        // "file.txt"
	p1Escape   = patchAt + 16   // "../outside/secret"
	p1New      = patchAt + 48   // "new.txt"
	p1Sub      = patchAt + 64   // "sub"
	p1Iovec    = patchAt + 256  // {p1Buf, 64}
	p1Buf      = patchAt + 512  // 64 bytes
	p1Out      = patchAt + 768  // results
	p1Sub0     = patchAt + 1024 // a clock subscription of 1 ms
	p1Events   = patchAt + 1536
	memEnd     = fuzzMemPages << 16
	rightsAll  = 0x1fffffff
	oflagCreat = 1
)

func preview1Patch() []byte {
	p := make([]byte, 2048)
	copy(p[p1File-patchAt:], "file.txt")
	copy(p[p1Escape-patchAt:], "../outside/secret")
	copy(p[p1New-patchAt:], "new.txt")
	copy(p[p1Sub-patchAt:], "sub")
	binary.LittleEndian.PutUint32(p[p1Iovec-patchAt:], p1Buf)
	binary.LittleEndian.PutUint32(p[p1Iovec-patchAt+4:], 64)
	s := p[p1Sub0-patchAt:]
	binary.LittleEndian.PutUint64(s, 7)         // userdata
	s[8] = 0                                    // clock
	binary.LittleEndian.PutUint32(s[16:], 1)    // monotonic
	binary.LittleEndian.PutUint64(s[24:], 1e6)  // 1 ms
	binary.LittleEndian.PutUint64(s[32:], 1000) // precision
	return p
}

// p1Call is one call of a seed: a function and its arguments.
type p1Call struct {
	name string
	args []uint64
}

func (e *p1Env) seed(mode byte, calls ...p1Call) []byte {
	patch := preview1Patch()
	s := encodeHeader(mode, patch)
	for _, c := range calls {
		k := e.index(c.name)
		s = binary.LittleEndian.AppendUint16(s, uint16(k))
		for i := range e.funcs[k].params {
			var v uint64
			if i < len(c.args) {
				v = c.args[i]
			}
			s = binary.LittleEndian.AppendUint64(s, v)
		}
	}
	return s
}

// preview1Seeds calls every function with a few argument patterns (small
// values on the preopen, pointers at and past the end of memory, huge
// counts, bad descriptors), and sequences on files: open, read, seek,
// close twice; escapes from the preopen; sleeps and subscription counts
// whose sizes overflow.
func preview1Seeds(e *p1Env) [][]byte {
	patterns := [][]uint64{
		{3, p1File, 8, p1Out, 8, 0, 1, p1Out + 16, 4},
		{3, memEnd - 4, 16, memEnd - 2, 64, memEnd - 8, memEnd - 1, memEnd - 4, memEnd - 4},
		{3, memEnd, 0xffffffff, memEnd, 0xffffffff, memEnd, memEnd, memEnd, memEnd},
		{0xffffffff, 1 << 28, 1 << 28, 0xffffffff, 1 << 31, 0xffffffffffffffff, 0xffffffff, 1 << 28, 0xffffffff},
		{100, p1Iovec, 1, p1Out, 0, 0, 0, 0, p1Out},
		{1, p1Iovec, 1, p1Out, 2, 0, 0, 0, p1Out},
	}
	var seeds [][]byte
	for k, f := range e.funcs {
		for i, p := range patterns {
			seeds = append(seeds, e.seed(byte(k+i)&p1ReadOnly, p1Call{f.name, p}))
		}
	}
	open := func(path, n, oflags uint64) p1Call {
		return p1Call{"path_open", []uint64{3, 1, path, n, oflags, rightsAll, rightsAll, 0, p1Out}}
	}
	seeds = append(seeds,
		// Open, read, seek, write, close twice, read after close.
		e.seed(0, open(p1File, 8, 0),
			p1Call{"fd_read", []uint64{4, p1Iovec, 1, p1Out + 8}},
			p1Call{"fd_seek", []uint64{4, 0xfffffffffffffff0, 2, p1Out + 16}},
			p1Call{"fd_seek", []uint64{4, 3, 0, p1Out + 16}},
			p1Call{"fd_pread", []uint64{4, p1Iovec, 1, 1 << 62, p1Out + 8}},
			p1Call{"fd_write", []uint64{4, p1Iovec, 1, p1Out + 8}},
			p1Call{"fd_filestat_set_size", []uint64{4, 1 << 40}},
			p1Call{"fd_close", []uint64{4}},
			p1Call{"fd_close", []uint64{4}},
			p1Call{"fd_read", []uint64{4, p1Iovec, 1, p1Out + 8}}),
		// Create, renumber onto the preopen, close the preopen.
		e.seed(0, open(p1New, 7, oflagCreat),
			p1Call{"fd_renumber", []uint64{4, 3}},
			p1Call{"fd_close", []uint64{3}},
			p1Call{"path_open", []uint64{3, 1, p1File, 8, 0, rightsAll, rightsAll, 0, p1Out}},
			p1Call{"fd_close", []uint64{0}},
			p1Call{"fd_read", []uint64{0, p1Iovec, 1, p1Out + 8}}),
		// Escapes: "..", a symlink out, a rename out, a hard link out.
		e.seed(0, open(p1Escape, 17, 0),
			p1Call{"path_symlink", []uint64{p1Escape, 17, 3, p1New, 7}},
			open(p1New, 7, 0),
			p1Call{"path_filestat_get", []uint64{3, 1, p1New, 7, p1Out}},
			p1Call{"path_rename", []uint64{3, p1File, 8, 3, p1Escape, 17}},
			p1Call{"path_link", []uint64{3, 0, p1File, 8, 3, p1Escape, 17}},
			p1Call{"path_unlink_file", []uint64{3, p1Escape, 17}},
			p1Call{"path_remove_directory", []uint64{3, p1Escape, 10}},
			p1Call{"path_create_directory", []uint64{3, p1Escape, 10}}),
		// A directory: list it, remove it, read it as a file.
		e.seed(0, open(p1Sub, 3, 2),
			p1Call{"fd_readdir", []uint64{4, p1Buf, 64, 0, p1Out}},
			p1Call{"fd_readdir", []uint64{4, p1Buf, 0xffffffff, 1 << 62, p1Out}},
			p1Call{"path_remove_directory", []uint64{3, p1Sub, 3}},
			p1Call{"fd_read", []uint64{4, p1Iovec, 1, p1Out}},
			p1Call{"fd_close", []uint64{4}}),
		// Standard streams, stdin idle.
		e.seed(p1IdleStdin,
			p1Call{"fd_write", []uint64{1, p1Iovec, 1, p1Out}},
			p1Call{"fd_write", []uint64{2, p1Iovec, 1, p1Out}},
			p1Call{"fd_read", []uint64{0, p1Iovec, 1, p1Out}}),
		// A sleep, one with an idle stdin, subscription counts whose
		// sizes overflow 32 bits.
		e.seed(0, p1Call{"poll_oneoff", []uint64{p1Sub0, p1Events, 1, p1Out}}),
		e.seed(p1IdleStdin, p1Call{"poll_oneoff", []uint64{p1Sub0, p1Events, 1, p1Out}}),
		e.seed(0, p1Call{"poll_oneoff", []uint64{p1Sub0, p1Events, 1 << 28, p1Out}}),
		e.seed(0, p1Call{"poll_oneoff", []uint64{0, 0, 0xffffffff, p1Out}}),
		e.seed(0, p1Call{"poll_oneoff", []uint64{0, 0, 0x5555556, p1Out}}),
		// Sockets: there are none to accept from.
		e.seed(0, p1Call{"sock_accept", []uint64{3, 0, p1Out}},
			p1Call{"sock_recv", []uint64{3, p1Iovec, 1, 0, p1Out, p1Out + 4}},
			p1Call{"sock_send", []uint64{1, p1Iovec, 1, 0, p1Out}},
			p1Call{"sock_shutdown", []uint64{1, 3}}),
		// Exit.
		e.seed(0, p1Call{"proc_exit", []uint64{3}}, p1Call{"fd_write", []uint64{1, p1Iovec, 1, p1Out}}),
	)
	return seeds
}

// TestPreview1FuzzGuestKnowsEveryFunction: the preview1 hostile guest
// imports every wasi_snapshot_preview1 function wazero defines, so the
// fuzz target reaches each.
func TestPreview1FuzzGuestKnowsEveryFunction(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	compiled, err := wasi_snapshot_preview1.NewBuilder(r).Compile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range compiled.ExportedFunctions() {
		want = append(want, name)
	}
	slices.Sort(want)
	var got []string
	for _, f := range p1EnvFor(t).funcs {
		got = append(got, f.name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the preview1 guest imports\n%q\nwazero defines\n%q", got, want)
	}
	if len(got) < 40 {
		t.Fatalf("only %d preview1 functions", len(got))
	}
}
