package runtime

import (
	"io"
	"log/slog"
	"net"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime/sockets"
)

// Config configures a Runtime. The zero value is usable: no network access,
// no extensions.
type Config struct {
	// Network is the network policy for wasi:sockets. Nil denies every
	// connect, listen and name lookup (see sockets.Policy).
	Network *sockets.Policy

	// Resolver serves the name lookups the policy allows guests
	// (resolve-addresses); nil means net.DefaultResolver. A panic of its
	// Dial, or of a method of the connection Dial returned, fails that
	// connection (sockets.DialPanicError), not the process; so do a Dial
	// that returns neither a connection nor an error and a Read or Write
	// whose count lies outside its buffer.
	Resolver *net.Resolver

	// SocketPool is the budget of descriptors the runtime's guests draw
	// from, together with those of every runtime sharing it: their
	// sockets, each counting against it from when it counts against its
	// guest's Limits.Sockets until it no longer does; the connection each
	// listener accepts next, from before the accept; and the host files
	// and directories they hold open (preopens aside), each counting from
	// its open to its close, as against Limits.Files. A guest's sockets
	// and files take their units through one share, under one floor. Nil
	// means sockets.ProcessSockets(), the process's: its soft
	// RLIMIT_NOFILE less a reserve for the host (sockets.DescriptorReserve),
	// which every runtime of the process naming no pool of its own shares,
	// so that the guests of all of them together cannot run the process
	// out of descriptors (accept, dial and open would then fail with
	// EMFILE for every guest and for the host's own files). Past it
	// create-tcp-socket and create-udp-socket fail with new-socket-limit,
	// and a listener's accept as past Limits.Sockets (the listener accepts
	// nothing until there is room); open-at and read-directory fail with
	// insufficient-memory and path_open with EIO, as past Limits.Files.
	// Its last eighth goes only to guests holding fewer than 16 of its
	// units, so that a few guests cannot starve the rest (see
	// sockets.Pool). A pool made with sockets.NewPool for one runtime
	// splits the process's descriptors only if the pools of the process
	// together stay within them. (The name is the field's from when the
	// pool counted sockets alone, kept so that embedders' code builds.)
	SocketPool *sockets.Pool

	// LookupPool is the budget of name lookups in flight the runtime's
	// guests draw from, together with those of every runtime sharing it,
	// each lookup counting as it does against its guest's Limits.Lookups.
	// Nil means sockets.ProcessLookups(), the process's: 256 lookups
	// (fewer under an RLIMIT_NOFILE below 8,192, so that their DNS
	// sockets, two a lookup, fit in half sockets.DescriptorReserve), the
	// last quarter only for guests running fewer than 2. Go runs at
	// most 500 lookups of the process at once on the C library's
	// resolver (which it uses where the host's configuration asks what
	// its own cannot do), a thread each until getaddrinfo returns; past
	// that every lookup of the process waits, the host's own included.
	// Past the pool resolve-addresses fails with
	// temporary-resolver-failure.
	LookupPool *sockets.Pool

	// Limits bound what each guest can make the host hold: its memory,
	// its resource handles, its sockets. Zero fields take the defaults;
	// ModuleConfig.Limits overrides them for one guest.
	Limits Limits

	// Extensions register more host modules, such as the wasi:tls host.
	Extensions []Extension

	// Logger, if set, receives what the runtime recovered from a panic of
	// the embedder's code on a goroutine of its own, with the stack: a
	// guest's standard input, output or error that panicked (ending that
	// stream; see StdioPanicError), or a Resolver's Dial that panicked
	// (the first panic of each guest); and, once per guest and cap, that a
	// guest reached one of its caps, naming the cap's field and flag
	// (level Warn). Nil logs to slog.Default().
	Logger *slog.Logger

	// StopFlag declares that the wazero.Runtime has no termination checks
	// (NewFastRuntimeConfig): guests are stopped by the global that
	// CompileModule adds to them. Instantiate then refuses a module
	// CompileModule did not compile, and InstantiateComponent compiles
	// every core module of a component with the global
	// (component.InstantiateStop), failing on one the rewriter refuses.
	StopFlag bool
}

// ModuleConfig configures one guest instance: what it sees through both
// wasi_snapshot_preview1 and the WASI 0.2 interfaces (wasi:cli).
type ModuleConfig struct {
	// Name is the module instance name; empty for an anonymous instance,
	// so that one compiled guest can run several times at once. No other
	// guest can import from a named one (ErrImportsGuest), though wazero
	// resolves imports by instance name.
	Name string

	// Args are the command-line arguments, program name first.
	Args []string

	// Env are the environment variables, as "KEY=value".
	Env []string

	// Stdin, Stdout and Stderr are the standard streams; nil means empty
	// input and discarded output. They are read and written on
	// goroutines (Stdout and Stderr in copies of at most 64 KiB, unless a
	// bytes.Buffer, a strings.Builder or io.Discard), so that a guest
	// waiting for them stops with its context or Close; a read or write
	// still running when the guest ends ends with the reader or writer
	// (close it to end it at once), and what such a read reads is
	// dropped.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// Dirs are preopened host directories, in order, served through both
	// wasi_snapshot_preview1 and wasi:filesystem; two at one guest path
	// are refused.
	Dirs []Dir

	// Limits overrides, field by nonzero field, the runtime's
	// Config.Limits for this guest.
	Limits Limits

	// Configure, if not nil, adjusts the wazero.ModuleConfig built from
	// the fields above, for what they do not cover (an fs.FS mount, a fake
	// clock for wasi_snapshot_preview1); the runtime already gives
	// wasi_snapshot_preview1 the system clocks, crypto/rand and a sleep of
	// its own. The runtime's own choices (no automatic start functions,
	// the name: set it with Name) are re-applied after it. What it sets replaces what the runtime
	// set, for wasi_snapshot_preview1 only: set the arguments,
	// environment, standard streams and directories with the fields above,
	// which serve the WASI 0.2 interfaces too (WithStdout here would leave
	// wasi:cli's stdout on Stdout, and WithFSConfig drop the Dirs from
	// wasi_snapshot_preview1), and leave the sleep alone (WithNanosleep,
	// WithSysNanosleep): the runtime's ends when the guest is stopped or
	// closed, wazero's only when the time the guest asked for is up.
	Configure func(wazero.ModuleConfig) wazero.ModuleConfig

	// Started, if not nil, is called with the instance once it is
	// instantiated, before its _initialize or _start function runs, on the
	// goroutine that called Instantiate. It gives the embedder of a
	// command the instance while the guest runs: to read its resource
	// table, or to Close it from another goroutine. If it panics, the
	// instance is closed and the panic goes on to Instantiate's caller.
	Started func(*Instance)
}

// Dir is a preopened directory.
type Dir struct {
	// Host is the directory on the host.
	Host string
	// Guest is the path the guest sees it as.
	Guest string
	// ReadOnly forbids writes.
	ReadOnly bool
}
