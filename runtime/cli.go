package runtime

import (
	"context"
	"io"
	"strings"

	"github.com/wasitls/wasitls/bindings/wasi/cli/environment"
	terminalinput "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-input"
	terminaloutput "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-output"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// envHost serves wasi:cli/environment from the ModuleConfig.
type envHost struct{}

func (envHost) GetEnvironment(ctx context.Context) []cabi.Tuple2[string, string] {
	st := stateFrom(ctx, "wasi:cli/environment#get-environment")
	out := make([]cabi.Tuple2[string, string], 0, len(st.cfg.Env))
	for _, kv := range st.cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, cabi.Tuple2[string, string]{F0: k, F1: v})
	}
	return out
}

func (envHost) GetArguments(ctx context.Context) []string {
	return stateFrom(ctx, "wasi:cli/environment#get-arguments").cfg.Args
}

// InitialCwd reports none: the guest has no current directory of its own
// beyond what wasi_snapshot_preview1 preopens.
func (envHost) InitialCwd(ctx context.Context) (string, bool) { return "", false }

var _ environment.Host = envHost{}

// exitHost serves wasi:cli/exit.
type exitHost struct{}

func (exitHost) Exit(ctx context.Context, status cabi.Result[cabi.Unit, cabi.Unit]) {
	code := uint32(0)
	if status.IsErr() {
		code = 1
	}
	stateFrom(ctx, "wasi:cli/exit#exit").exit(ctx, code)
}

func (exitHost) ExitWithCode(ctx context.Context, code uint8) {
	stateFrom(ctx, "wasi:cli/exit#exit-with-code").exit(ctx, uint32(code))
}

// The standard streams: each instance has one stream per standard stream,
// shared by every handle get-stdin, get-stdout and get-stderr return;
// dropping a handle leaves the stream open, and the instance closes it.

// stdinHandle is a guest handle on the shared stdin stream.
type stdinHandle struct{ *wasiio.InputStream }

// Drop implements cabi.Resource: the shared stream stays open.
func (stdinHandle) Drop() {}

// stdoutHandle is a guest handle on a shared output stream.
type stdoutHandle struct{ *wasiio.OutputStream }

// Drop implements cabi.Resource: the shared stream stays open.
func (stdoutHandle) Drop() {}

type stdinHost struct{}

func (stdinHost) GetStdin(ctx context.Context) streams.InputStream {
	st := stateFrom(ctx, "wasi:cli/stdin#get-stdin")
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stdin == nil {
		var r io.Reader = strings.NewReader("")
		if st.cfg.Stdin != nil {
			r = st.cfg.Stdin
		}
		st.stdin = wasiio.NewInputStream(r, nil)
		st.closers = append(st.closers, st.stdin)
	}
	return stdinHandle{st.stdin}
}

type stdoutHost struct{}

func (stdoutHost) GetStdout(ctx context.Context) streams.OutputStream {
	st := stateFrom(ctx, "wasi:cli/stdout#get-stdout")
	return stdoutHandle{st.output(&st.stdout, st.cfg.Stdout)}
}

type stderrHost struct{}

func (stderrHost) GetStderr(ctx context.Context) streams.OutputStream {
	st := stateFrom(ctx, "wasi:cli/stderr#get-stderr")
	return stdoutHandle{st.output(&st.stderr, st.cfg.Stderr)}
}

// output returns the shared stream *s over w, creating it on first use.
func (st *state) output(s **wasiio.OutputStream, w io.Writer) *wasiio.OutputStream {
	st.mu.Lock()
	defer st.mu.Unlock()
	if *s == nil {
		if w == nil {
			w = io.Discard
		}
		*s = wasiio.NewOutputStream(w, nil)
		st.closers = append(st.closers, *s)
	}
	return *s
}

// The terminal interfaces: this host never presents a terminal.

type terminalHost struct{}

func (terminalHost) GetTerminalStdin(ctx context.Context) (terminalinput.TerminalInput, bool) {
	return nil, false
}

func (terminalHost) GetTerminalStdout(ctx context.Context) (terminaloutput.TerminalOutput, bool) {
	return nil, false
}

func (terminalHost) GetTerminalStderr(ctx context.Context) (terminaloutput.TerminalOutput, bool) {
	return nil, false
}
