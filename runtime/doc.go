// Package runtime makes wazero guests instantiable with WASI 0.2: wasi:io,
// wasi:clocks, wasi:random, wasi:cli and wasi:sockets, served from the
// generated bindings over the implementations in runtime/wasiio and
// runtime/sockets, plus wazero's wasi_snapshot_preview1 (which standard Go
// GOOS=wasip1 guests use for stdio, files and arguments).
//
// # Model
//
// [New] registers the [Config.Extensions] (such as the wasi:tls host). The
// WASI 0.2 interfaces are registered on demand: before instantiating a
// guest, its imports go through the runtime's [link.Linker], which defines
// a host module for exactly each WASI 0.2.N name the guest imports, over the
// one implementation of this package (see the link package for the
// patch-version rule). Host modules are shared by every guest of the
// runtime; the state of one guest travels in the context of its calls.
//
// [Runtime.Instantiate] creates that state, an [Instance]: a cabi.Instance
// (the resource table shared by every interface and version alias the guest
// imports), the guest's network [sockets.Stack] under the runtime's policy,
// and its arguments, environment and standard streams. It instantiates the
// guest with the context carrying them and runs its _start (or
// _initialize) function. When _start returns, traps or exits, every
// resource the guest still holds is dropped: sockets and files closed,
// background goroutines stopped. [Instance.Close] does the same for
// instances that are still running (it also unblocks a guest waiting in
// poll or a blocking stream call, which then exits) and for reactors.
//
// # Files
//
// [ModuleConfig.Dirs] are served twice: by wazero's wasi_snapshot_preview1
// and by wasi:filesystem (types and preopens, see the filesystem package),
// where every path stays beneath its preopen, symbolic links included,
// read-only preopens refuse every change, and [Config.FileLimit] bounds the
// host files a guest holds open.
//
// # Network policy
//
// Network access is denied by default. [Config.Network] holds the rules:
// connect targets as HOST:PORT patterns (names, wildcard names, addresses,
// CIDR ranges, port ranges), listen addresses, and, implied by connect
// rules that name hosts, which names resolve. Anything else returns
// access-denied to the guest. See [sockets.Policy].
//
// # Not supported
//
// UDP sockets: create-udp-socket returns not-supported. Terminals:
// get-terminal-stdin/stdout/stderr return none.
package runtime
