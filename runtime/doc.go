// Package runtime makes wazero guests instantiable with WASI 0.2: wasi:io,
// wasi:clocks, wasi:random, wasi:cli and wasi:sockets, served from the
// generated bindings over the implementations in runtime/wasiio and
// runtime/sockets, plus wazero's wasi_snapshot_preview1 (which standard Go
// GOOS=wasip1 guests use for stdio, files and arguments).
//
// # Use
//
// Make a wazero.Runtime with [NewFastRuntimeConfig] and a Runtime over it
// with [New] (Config.StopFlag set), compile a guest with [CompileModule] and
// run it with [Runtime.Instantiate]: the package example, and README.md's
// "Embed it" for a whole program ("Stopping guests", below, says why and
// what else works). TLS is an extension:
// list tlshost.New(tlshost.Config{...}) (package runtime/tlshost) in
// [Config.Extensions], and allow the guest's peers in [Config.Network]
// (nil denies every connection). Instantiate guests through the Runtime,
// not wazero's InstantiateModule: the host modules a guest imports are
// defined there, and wazero alone fails on the first of them (such as
// "module[wasi:io/error@0.2.8] not instantiated").
//
// A wazero program that has a runtime and host modules of its own keeps
// them: wazero.NewRuntime(ctx) is NewFastRuntimeConfig's configuration,
// and Instantiate resolves a guest's imports of the program's host
// modules as wazero does; an import of another guest's module instance
// (one instantiated with a [ModuleConfig.Name], which wazero would link
// to) it refuses with [ErrImportsGuest]. What changes is that New registers
// wasi_snapshot_preview1 (and refuses a runtime where the program did,
// see below), and that what the program's wazero.ModuleConfig set goes in
// [ModuleConfig]. runtime/tlshost's Example_wazeroProgram is such a
// program. Those host modules stay the program's, called by wazero with
// nothing of the runtime's between: a panic of one of their functions is
// wazero's error of the guest's call, leaving the instance callable, and
// a guest's cabi_realloc or post-return function may call them (the
// Component Model's may-leave rule, which the runtime applies to every
// function it defines, is not checked). Register them through an
// [Extension] to have both (its host module builders guard what they
// are given), or have each function call cabi.MayLeaveCtx first.
//
// # Model
//
// [New] registers the [Config.Extensions] (such as the wasi:tls host),
// each over a wazero.Runtime whose host module builders guard what they
// are given: a host function of an extension that panics traps the core
// guest calling it ("MODULE.NAME: host panic: VALUE", the instance
// marked trapped), as a preview1 function's does. The
// WASI 0.2 interfaces are registered on demand: before instantiating a
// guest, its imports go through the runtime's [link.Linker], which defines
// a host module for exactly each WASI 0.2.N name the guest imports, over the
// one implementation of this package (see the link package for the
// patch-version rule). Host modules are shared by every guest of the
// runtime; the state of one guest travels in the context of its calls.
//
// [Runtime.Instantiate] creates that state, a [Guest], the one owner of
// everything the host holds for the guest: a cabi.Instance (the resource
// table shared by every interface and version alias the guest imports; its
// Data is the Guest, which host functions find with [GuestFrom]), the
// guest's [Limits], its network [sockets.Stack] under the runtime's policy
// with its socket count, its memory, its arguments, environment and
// standard streams, and the per-guest state of extensions
// ([GuestExtension], [Guest.SetValue]); an [Instance] is a Guest with its
// module (a [ComponentInstance], one with its component). It instantiates
// the guest with the context carrying them and runs its _start (or
// _initialize) function. When _start returns, traps or exits, every
// resource the guest still holds is dropped: sockets and files closed,
// background goroutines stopped. [Instance.Close] does the same for
// instances that are still running (it also unblocks a guest waiting in
// poll or a blocking stream call, which then exits) and for reactors.
// Closing the wazero.Runtime, or a guest's api.Module, does what Close
// does for each guest it closes: the guest is stopped (a call in
// progress returns with the stop, before wazero closes the module under
// it, waiting up to a second for one nothing stops) and what it held is
// released. A module closed with a context carrying the guest (a host
// call's, or Instance.Context) is the guest's exit instead, as a host
// function closing its caller and panicking with a *sys.ExitError, the
// way wazero's proc_exit exits, makes it. A
// reactor's export that exits (wasi:cli/exit, wasi_snapshot_preview1's
// proc_exit) returns the *sys.ExitError, and every later call into the
// instance, a core module's or a component's, is refused with an error
// wrapping cabi.ErrExited; what it holds stays held until Close.
//
// # Components
//
// [Runtime.InstantiateComponent] gives a component (parsed by
// runtime/component) the same Guest; its lowered imports bind through the
// same Linker, with the memory and realloc each `canon lower` names, and
// extensions that are [LinkedExtension]s (the wasi:tls host) are served to
// components through it too. [Runtime.RunComponent] runs a command
// component's wasi:cli/run. See docs/components.md.
//
// # Files
//
// [ModuleConfig.Dirs] are served twice: by wazero's wasi_snapshot_preview1
// and by wasi:filesystem (types and preopens, see the filesystem package).
// In both every path stays beneath its preopen, symbolic links included
// (wasi_snapshot_preview1's mounts are the preopens' os.Root too, one
// os.Root call per path operation), read-only preopens refuse every change, and [Limits.Files] bounds the
// host files a guest holds open.
//
// wasi_snapshot_preview1 is wazero's, each function guarded: one of
// wazero's faults on some arguments (a Go runtime error, which wazero
// would recover into a trap carrying the host's stack) traps the guest
// with a message naming the function, and the known ones answer an errno
// (poll_oneoff's count of subscriptions that overflows or exceeds memory,
// inval; fd_filestat_set_times on a standard stream, nosys). New
// registers it, and refuses a wazero.Runtime that already has a
// wasi_snapshot_preview1 it did not register (wazero's
// wasi_snapshot_preview1.Instantiate, which many wazero programs call):
// guests would get that one, unguarded, and calling it after New fails in
// wazero as a module instantiated twice. Leave the call out; its
// per-guest settings are [ModuleConfig]'s, and modules the program still
// instantiates with wazero itself get the guarded one as they got
// wazero's.
//
// Its waits (poll_oneoff's sleep, reads of standard input, writes of
// standard output and error) end with the guest's context, and with the
// context of the call in progress where that is another (an export called
// through generated callers, or through wazero with a context derived
// from [Instance.Context]): the guest then exits mid-call, its instance
// trapped. A proc_exit with a code wazero reserves for a context's end
// (sys.ExitCodeContextCanceled, a C or Go guest's exit(-1)) exits with
// 255; a change past the disk quota ([Limits.DiskBytes]) answers EDQUOT.
// A panic in one of its functions that is not an exit (a Go runtime error
// of wazero's, or a bug of the host's, such as an embedder's random
// source or clock that panics) traps the guest with a message naming the
// function and no host stack, its instance marked trapped, as a host
// function's panic through the generated glue does.
//
// The embedder's standard streams ([ModuleConfig.Stdin], Stdout, Stderr)
// run on goroutines of the runtime's, through preview1 and wasi:cli
// alike: a panic of one of them (whatever the guest wrote or read to
// cause it) ends that stream, never the process; the guest sees a
// stream error ([StdioPanicError]) and the stack goes to [Config.Logger].
//
// # Limits
//
// Every guest runs under [Limits] ([Config.Limits], overridden per guest by
// [ModuleConfig.Limits]): its linear memory (4 GiB by default, the wasm32
// maximum), the resource handles it holds (262,144), its sockets (4,096).
// Past the memory limit memory.grow fails; past the handle limit the host
// call traps naming the limit, the WIT having no error case for it; past
// the socket limit the guest gets new-socket-limit. Guest memory is one
// reservation per guest, never copied on growth, so the host's resident
// memory follows what the guest touches. A component's instantiation is
// refused past the core instances it may make ([Limits.CoreInstances],
// 10,000) or once the memories they start with would pass the memory
// limit together. Extensions add their own (the wasi:tls host bounds
// pending handshakes). The first time a guest reaches a cap,
// [Config.Logger] gets one Warn record naming the cap's field, its
// wasitls run flag, its value and the guest.
//
// # Stopping guests
//
// A guest that computes without end stops when its context ends or its
// instance is closed. The way to run guests, as the wasitls command does,
// is the stop flag: core modules compiled by [CompileModule] (a stop
// global checked at loop headers and tail calls), on a wazero runtime made
// with [NewFastRuntimeConfig], and [Config.StopFlag] set, so that
// Instantiate refuses a module compiled otherwise and InstantiateComponent
// compiles a component's core modules with the global.
// [NewRuntimeConfig] (wazero's own termination checks, a call out to Go
// at every loop header, slower) is for what the stop flag cannot run: a
// module CompileModule refuses (a *stopcheck.Error), compiled then with
// [CompileModuleChecked] so that its tables and call stack stay bounded
// ([Limits.TableEntries], [Limits.Stack]), or a component whose
// [component.Component.PrepareStop] does, modules instantiated through
// wazero rather than [Runtime.Instantiate], and export calls bounded by a
// context of their own: wazero's checks stop a guest when the context of
// the call ends, the stop flag when the instance's context ends or it is
// closed.
//
// # Calls into a halted instance
//
// An instance that was closed, whose guest exited or trapped, or whose
// call its context stopped, is not entered again. The later call's error,
// whichever way it is made ([Instance.Call]; the generated callers; a
// component's exports, component.Func.Call; [ComponentInstance.Run]),
// wraps:
//
//	closed    ErrClosed (= cabi.ErrClosed); also cabi.ErrExited or
//	          cabi.ErrTrapped when it had exited or trapped before
//	exited    cabi.ErrExited, the message naming the code
//	trapped   cabi.ErrTrapped
//	stopped   cabi.ErrTrapped (the stopped call itself: ErrStopped and
//	          the reason, or the context-cancelled exit)
//
// A call that was running when Close came wraps ErrStopped and ErrClosed.
// Two exceptions: a core module's own trap under Instance.Call (not a
// host function's) leaves it callable (with the whole stack budget
// again), as core wasm allows; and
// a call straight through wazero's api.Function cannot be refused before
// it runs, so that [Instance.CallError] reports a closed instance with
// ErrStopped and ErrClosed (ErrClosed, cabi.ErrExited and the
// *sys.ExitError when its guest had exited), an exited one as wazero's
// *sys.ExitError with the code, and a trapped or stopped one by what the
// call does.
//
// # Network policy
//
// Network access is denied by default. [Config.Network] holds the rules:
// connect targets as HOST:PORT patterns (names, wildcard names, addresses,
// CIDR ranges, port ranges), listen addresses, and, implied by connect
// rules that name hosts, which names resolve, and the UDP peers a guest may
// exchange datagrams with. Anything else returns access-denied to the
// guest. See [sockets.Policy].
//
// # Not supported
//
// Terminals: get-terminal-stdin/stdout/stderr return none. UDP: the hop
// limit is recorded and reported but not applied.
package runtime
