package runtime

import (
	"fmt"
	"math"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/filesystem"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// Limits bound what one guest instance can make the host hold. A zero
// field means its default, and so does a negative one: no value turns a
// limit off. Each is enforced per guest: one guest reaching
// a limit does not affect the others of the runtime. What the guests of
// the process hold together, descriptors (sockets and files) and
// lookups, is bounded besides by Config.SocketPool and
// Config.LookupPool.
type Limits struct {
	// MemoryPages bounds the guest's linear memory, in 64 KiB pages; zero
	// means DefaultMemoryPages. Growing the memory past it fails (the
	// guest's memory.grow returns -1, and a Go guest dies with "out of
	// memory"); a guest that declares a larger minimum is not
	// instantiated. The host holds the memory in one reservation that is
	// never copied, so its resident size follows what the guest touches
	// (see memory.go). A component's memories share it: the memories its
	// core instances define, nested components' included, are refused
	// past it together when they start (component.Options.InitialMemory)
	// and held to it together as they grow.
	MemoryPages uint32

	// Handles bounds the resource handles the guest holds at once, every
	// resource type together (pollables, streams, sockets, identities,
	// handshakes, connections, futures); zero means
	// cabi.DefaultHandleLimit. The WIT has no error case for it: the host
	// call that would return one more handle traps, naming the function
	// and this limit.
	Handles int

	// Sockets bounds the sockets the guest holds at once; zero means
	// sockets.DefaultSocketLimit. Past it, create-tcp-socket fails with
	// new-socket-limit, and the host closes the connections it accepts
	// for the guest's listeners. A socket counts until it is dropped and
	// the streams that share its connection are closed; an accepted one
	// from when the host queues it for the guest's accept. UDP sockets
	// count too, and so does a TLS connection over another's cleartext
	// (Guest.HoldSocket), whose handshake fails past it.
	Sockets int

	// Files bounds the host files and directories the guest holds open
	// through wasi:filesystem and wasi_snapshot_preview1 together at once
	// (preopens aside), and wasi:filesystem's streams over files (each
	// holds a goroutine once used, and an input stream what it reads
	// ahead); zero means filesystem.DefaultFileLimit. Past it, open-at,
	// read-directory and read-via-stream, write-via-stream and
	// append-via-stream fail with insufficient-memory, and preview1's
	// path_open with EIO. Each open file and directory (not a stream)
	// also draws a unit from Config.SocketPool, the process's budget of
	// descriptors, refused the same way past it.
	Files int

	// DiskBytes bounds what the guest may add to the host's disk beneath
	// its preopens, in bytes: what its writes and size changes make
	// regular files grow by, and filesystem.NameBytes for each name it
	// makes (a file, a directory, a link), less the names it removes and
	// the bytes of its growth that leave the disk (a file made smaller,
	// or freed: its last link removed, with no guest of the process
	// holding it open, else at the last close); zero means
	// filesystem.DefaultDiskBytes. A change past it fails whole, with
	// quota in wasi:filesystem and EDQUOT in wasi_snapshot_preview1.
	// Removing or shrinking a file gives back only what this guest was
	// charged for it, never bytes another guest wrote or that were there
	// before.
	DiskBytes int64

	// DiskFiles bounds how many files the guest's disk quota remembers
	// the growth of, to give it back when they shrink or are freed: the
	// files it grew (made larger by writes or size changes) and has not
	// removed or shrunk back; zero means filesystem.DefaultDiskFiles.
	// Each takes some 280 bytes of host memory in the process's registry.
	// A change growing one more fails whole, with quota in
	// wasi:filesystem and EDQUOT in wasi_snapshot_preview1.
	DiskFiles int

	// Datagram bounds the UDP datagrams the guest sends and receives, in
	// bytes; zero means sockets.DefaultMaxDatagram. Larger sends fail with
	// datagram-too-large, larger arrivals are dropped.
	Datagram int

	// DatagramQueue bounds the received datagrams each UDP socket holds
	// for the guest; zero means sockets.DefaultDatagramQueue. Past it the
	// host stops reading the socket until the guest receives.
	DatagramQueue int

	// DatagramBytes bounds the bytes of received datagrams all the
	// guest's UDP sockets hold together for it; zero means
	// sockets.DefaultDatagramBytes. Past it arriving datagrams are
	// dropped.
	DatagramBytes int

	// Lookups bounds the name lookups (resolve-addresses) the guest runs
	// at once; zero means sockets.DefaultLookupLimit. Each holds a
	// goroutine and a socket to the DNS server (with the system's
	// resolver, a thread) until it is answered or times out; dropping its
	// stream ends Go's resolver's queries at once, and counts one on the
	// system's resolver, which nothing interrupts, until it returns. Past
	// it resolve-addresses fails with temporary-resolver-failure.
	Lookups int

	// LookupGrants bounds the addresses the guest's name lookups keep
	// connectable: a lookup a connect rule allows makes the addresses it
	// returned connectable on the rule's ports; zero means
	// sockets.DefaultGrantLimit. Past it the least recently granted
	// address is forgotten, and a connect to it is access-denied until a
	// lookup returns it again. Without it, the host kept every address
	// any of the guest's lookups returned until the guest ended.
	LookupGrants int

	// LookupAddrs bounds the addresses the answers of the guest's name
	// lookups hold for it, unread, every answer together; zero means
	// sockets.DefaultLookupAddrLimit. An answer with more keeps as many
	// as there is room for, in its order (and makes only those
	// connectable); with no room, the lookup fails with
	// temporary-resolver-failure. Reading an address
	// (resolve-next-address) or dropping the stream makes room. Without
	// it, one answer (up to 64 KiB over TCP: some 6,300 addresses, 150
	// KiB for the host) was kept whole for as long as the guest held its
	// stream, as many streams as the handle limit allows.
	LookupAddrs int

	// NestedCalls bounds how deep calls into the guest nest inside its
	// host calls: a destructor a drop runs (a component's resource.drop,
	// an [export] module's [resource-drop]) that drops another resource
	// whose destructor runs inside it, and so on. Each level holds host
	// stack; zero means cabi.DefaultNestingLimit. Past it the drop traps,
	// naming this limit.
	NestedCalls int

	// TableEntries bounds the entries the tables a core module defines
	// may hold together (8 bytes of host memory each); zero means
	// stopcheck.DefaultTableEntries. It is applied when the module is
	// compiled, by CompileModuleLimits (the stop flag's rewrite) or
	// CompileModuleChecked (wazero's termination checks), which give
	// each table a maximum: table.grow past it returns -1, and a module
	// whose tables start with more is refused. Instantiate refuses a
	// module compiled so for a larger bound than the guest's. A
	// component's core modules each get this bound, and all its core
	// instances twice it together (component.Options). A module compiled
	// straight with wazero's CompileModule is not bounded (see
	// CompileModuleChecked).
	TableEntries int

	// CoreInstances bounds the core module instances a component's
	// instantiation makes, nested components' included (each may hold a
	// memory, tables and globals); zero means
	// component.DefaultCoreInstances. Past it the instantiation is
	// refused, naming this limit. A core module guest, one instance, is
	// not concerned.
	CoreInstances int

	// Stack bounds the guest's call stack, in bytes of frames as the stop
	// flag's rewriter weighs them (runtime/stopcheck, "The stack budget":
	// more than wazero allocates for them); zero means
	// stopcheck.DefaultStackBytes. Every level of nested calls shares it,
	// so that the host holds stacks for at most that much together,
	// whatever NestedCalls allows (wazero gives each level its own stack,
	// growing to some 100 MB). A call that would outgrow it traps,
	// naming this limit. A module compiled by this package is bounded,
	// with the stop flag (CompileModule, CompileModuleLimits) or under
	// wazero's termination checks (CompileModuleChecked), and so is a
	// component's every core module, with the stop flag or without; a
	// module compiled straight with wazero is not.
	Stack int64

	// SendLinger bounds how long a TCP connection's output stream, once
	// the guest dropped it, keeps trying to deliver what it holds (up to
	// wasiio.MaxUnsent bytes; a TLS connection's close_notify among them)
	// to a peer that does not read; zero means wasiio.DefaultSendLinger.
	// Until it is out, or the linger passed, the host holds the socket,
	// which counts against Sockets. It bounds too how long a TLS
	// close-output call (package tlshost) waits for the connection's
	// buffered cleartext to be written.
	SendLinger time.Duration

	// UnsentBytes bounds the bytes the guest's TCP connections hold
	// unsent together, for peers that do not read, beyond
	// wasiio.UnsentFloor (20 KiB) each, which counts its lingering after
	// a drop (SendLinger); zero means wasiio.DefaultUnsentBytes (64 MiB).
	// Short of it, check-write grants less, down to the 16 KiB a floor
	// covers, and a stream's pollable is ready as soon as its own
	// connection sent what it held: the guest waits rather than fails
	// (see wasiio.UnsentBudget). The host holds at most the guest's
	// sockets times the floor plus this (80 MiB + 64 MiB by default).
	UnsentBytes int64

	// PollSubscriptions bounds the subscriptions one
	// wasi_snapshot_preview1 poll_oneoff may name; zero means
	// DefaultPollSubscriptions. wazero allocates some 56 bytes of host
	// memory for each subscription on a descriptor that may block, held
	// while the call waits. Past it the call answers inval before anything
	// is allocated, as poll(2) does for more descriptors than
	// RLIMIT_NOFILE.
	PollSubscriptions int
}

// DefaultMemoryPages is the default guest memory limit: 65,536 pages of
// 64 KiB, 4 GiB, the most a wasm32 memory can address.
const DefaultMemoryPages = 65536

// Names of the limits, as errors and traps quote them.
const (
	memoryLimitName        = "runtime.Limits.MemoryPages, wasitls run --max-memory"
	handlesLimitName       = "runtime.Limits.Handles, wasitls run --max-handles"
	nestedLimitName        = "runtime.Limits.NestedCalls, wasitls run --max-nested-calls"
	tablesLimitName        = "runtime.Limits.TableEntries, wasitls run --max-table-entries"
	coreInstancesLimitName = "runtime.Limits.CoreInstances, wasitls run --max-core-instances"
	stackLimitName         = "runtime.Limits.Stack, wasitls run --max-stack"
)

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.Handles <= 0 {
		l.Handles = cabi.DefaultHandleLimit
	}
	if l.Sockets <= 0 {
		l.Sockets = sockets.DefaultSocketLimit
	}
	if l.Files <= 0 {
		l.Files = filesystem.DefaultFileLimit
	}
	if l.DiskBytes <= 0 {
		l.DiskBytes = filesystem.DefaultDiskBytes
	}
	if l.DiskFiles <= 0 {
		l.DiskFiles = filesystem.DefaultDiskFiles
	}
	if l.Datagram <= 0 {
		l.Datagram = sockets.DefaultMaxDatagram
	}
	if l.DatagramQueue <= 0 {
		l.DatagramQueue = sockets.DefaultDatagramQueue
	}
	if l.DatagramBytes <= 0 {
		l.DatagramBytes = sockets.DefaultDatagramBytes
	}
	if l.Lookups <= 0 {
		l.Lookups = sockets.DefaultLookupLimit
	}
	if l.LookupGrants <= 0 {
		l.LookupGrants = sockets.DefaultGrantLimit
	}
	if l.LookupAddrs <= 0 {
		l.LookupAddrs = sockets.DefaultLookupAddrLimit
	}
	if l.NestedCalls <= 0 {
		l.NestedCalls = cabi.DefaultNestingLimit
	}
	if l.TableEntries <= 0 {
		l.TableEntries = stopcheck.DefaultTableEntries
	}
	if l.CoreInstances <= 0 {
		l.CoreInstances = component.DefaultCoreInstances
	}
	if l.Stack <= 0 {
		l.Stack = stopcheck.DefaultStackBytes
	}
	if l.SendLinger <= 0 {
		l.SendLinger = wasiio.DefaultSendLinger
	}
	if l.UnsentBytes <= 0 {
		l.UnsentBytes = wasiio.DefaultUnsentBytes
	}
	if l.PollSubscriptions <= 0 {
		l.PollSubscriptions = DefaultPollSubscriptions
	}
	return l
}

// override returns l with the nonzero fields of o.
func (l Limits) override(o Limits) Limits {
	if o.MemoryPages != 0 {
		l.MemoryPages = o.MemoryPages
	}
	if o.Handles > 0 {
		l.Handles = o.Handles
	}
	if o.Sockets > 0 {
		l.Sockets = o.Sockets
	}
	if o.Files > 0 {
		l.Files = o.Files
	}
	if o.DiskBytes > 0 {
		l.DiskBytes = o.DiskBytes
	}
	if o.DiskFiles > 0 {
		l.DiskFiles = o.DiskFiles
	}
	if o.Datagram > 0 {
		l.Datagram = o.Datagram
	}
	if o.DatagramQueue > 0 {
		l.DatagramQueue = o.DatagramQueue
	}
	if o.DatagramBytes > 0 {
		l.DatagramBytes = o.DatagramBytes
	}
	if o.Lookups > 0 {
		l.Lookups = o.Lookups
	}
	if o.LookupGrants > 0 {
		l.LookupGrants = o.LookupGrants
	}
	if o.LookupAddrs > 0 {
		l.LookupAddrs = o.LookupAddrs
	}
	if o.NestedCalls > 0 {
		l.NestedCalls = o.NestedCalls
	}
	if o.TableEntries > 0 {
		l.TableEntries = o.TableEntries
	}
	if o.CoreInstances > 0 {
		l.CoreInstances = o.CoreInstances
	}
	if o.SendLinger > 0 {
		l.SendLinger = o.SendLinger
	}
	if o.UnsentBytes > 0 {
		l.UnsentBytes = o.UnsentBytes
	}
	if o.Stack > 0 {
		l.Stack = o.Stack
	}
	if o.PollSubscriptions > 0 {
		l.PollSubscriptions = o.PollSubscriptions
	}
	return l
}

// validate rejects limits no guest could run under.
func (l Limits) validate() error {
	if l.MemoryPages > DefaultMemoryPages {
		return fmt.Errorf("runtime: memory limit of %d pages is more than the wasm32 maximum of %d", l.MemoryPages, DefaultMemoryPages)
	}
	if l.Stack > stopcheck.MaxStackBytes {
		return fmt.Errorf("runtime: stack limit of %d bytes is more than the most the stop flag counts, %d", l.Stack, int64(stopcheck.MaxStackBytes))
	}
	if l.Datagram > 65535 {
		return fmt.Errorf("runtime: datagram limit of %d bytes is more than a UDP datagram holds", l.Datagram)
	}
	if l.TableEntries > math.MaxUint32 {
		return fmt.Errorf("runtime: table limit of %d entries is more than a table's index reaches (2^32-1)", l.TableEntries)
	}
	return nil
}

// checkMemory refuses a guest whose exported memory starts above the
// limit, before anything is allocated.
func (l Limits) checkMemory(compiled wazero.CompiledModule) error {
	for name, m := range compiled.ExportedMemories() {
		if m.Min() > l.MemoryPages {
			return fmt.Errorf("runtime: guest memory %q starts at %d pages (64 KiB each), more than the limit of %d pages (%s)",
				name, m.Min(), l.MemoryPages, memoryLimitName)
		}
	}
	return nil
}

// NewRuntimeConfig returns the wazero configuration with wazero's
// termination checks: guests stop computing when the context of their
// call is done (so that Instance.Close and a cancelled Instantiate stop a
// guest that never calls the host), at the price of a call out to Go at
// every loop header. Prefer the stop flag ([NewFastRuntimeConfig],
// [CompileModule], Config.StopFlag); this is for guests the stop flag's
// rewriter refuses (see the package documentation, Stopping guests).
// Guest memory needs no setting here: each Runtime.Instantiate bounds
// and reserves it per guest (Limits.MemoryPages).
func NewRuntimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
}
