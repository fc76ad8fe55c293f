package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/filesystem"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// sendLingerRange is what --send-linger accepts: under 10 ms a dropped
// stream gives up on what it holds, a close_notify among it, before a
// peer on loopback could read it.
var sendLingerRange = durationRange{lo: 10 * time.Millisecond, hi: 24 * time.Hour}

// limitFlags adds the per-guest limits to "wasitls run" and returns a
// function that reads them once the flags are parsed.
func limitFlags(fs *flag.FlagSet) func() (runtime.Limits, error) {
	memory := fs.String("max-memory", "4GiB", "most linear `memory` the guest may grow to, a component's memories together: bytes, or with a KiB, MiB or GiB suffix, a multiple of 64KiB, at most 4GiB (past it memory.grow fails; a guest whose memories start with more is not instantiated)")
	handles := intVar(fs, "max-handles", cabi.DefaultHandleLimit, "most resource `handles` the guest holds at once, every kind together (past it the host call traps)")
	socks := intVar(fs, "max-sockets", sockets.DefaultSocketLimit, "most `sockets` the guest holds at once, TCP and UDP, and TLS connections tunnelled through another's cleartext (past it create-tcp-socket and create-udp-socket fail with new-socket-limit, and accept on a listener, whose further clients wait in the kernel's backlog)")
	files := intVar(fs, "max-files", filesystem.DefaultFileLimit, "most host `files` and directories the guest holds open through wasi:filesystem and wasi_snapshot_preview1, and wasi:filesystem streams over files (past it open-at and the stream functions fail with insufficient-memory, path_open with EIO)")
	disk := fs.String("max-disk-bytes", "4GiB", "most `bytes` the guest may add to the host's disk beneath its --dir preopens: what it makes files grow by, 4KiB for each name it makes and what directories grow by to hold them, less what it gives back by shrinking files and removing names and directories: bytes, or with a KiB, MiB or GiB suffix (past it the write, set-size or create fails with quota, EDQUOT in wasi_snapshot_preview1)")
	diskFiles := intVar(fs, "max-disk-files", filesystem.DefaultDiskFiles, "most `files` the guest may have grown (made larger by writes or size changes) beneath its --dir preopens and not removed or shrunk back, which the host remembers, some 280 bytes each, to give their bytes back to --max-disk-bytes when they shrink or are removed (past it a write or set-size growing another fails with quota, EDQUOT in wasi_snapshot_preview1)")
	datagram := intVar(fs, "max-datagram", sockets.DefaultMaxDatagram, "largest UDP datagram, in `bytes`, the guest sends or receives (larger sends fail with datagram-too-large, larger arrivals are dropped)")
	queue := intVar(fs, "max-datagram-queue", sockets.DefaultDatagramQueue, "most received `datagrams` each UDP socket holds for the guest (past it the host stops reading the socket)")
	dgBytes := intVar(fs, "max-datagram-bytes", sockets.DefaultDatagramBytes, "most `bytes` of received datagrams the guest's UDP sockets hold for it together (past it arriving datagrams are dropped)")
	linger := durationVar(fs, "send-linger", wasiio.DefaultSendLinger, "most `duration` a TCP connection's output stream, once the guest dropped it, keeps trying to deliver what it holds (a TLS close_notify among it) to a peer that does not read; until then the host holds the socket, which counts against --max-sockets; also how long a TLS close-output call waits for its buffered cleartext to be written")
	unsent := fs.String("max-unsent-bytes", "64MiB", "most `bytes` the guest's TCP connections hold unsent together for peers that do not read, beyond 20KiB each that no other connection can take: bytes, or with a KiB, MiB or GiB suffix (short of it check-write grants less, down to 16KiB, and the guest waits for its connection to send what it holds)")
	lookups := intVar(fs, "max-lookups", sockets.DefaultLookupLimit, "most name `lookups` the guest runs at once (past it resolve-addresses fails with temporary-resolver-failure)")
	grants := intVar(fs, "max-lookup-grants", sockets.DefaultGrantLimit, "most `addresses` the guest's name lookups keep connectable (past it the least recently granted is forgotten: connecting to it is access-denied until a lookup returns it again)")
	lookupAddrs := intVar(fs, "max-lookup-addrs", sockets.DefaultLookupAddrLimit, "most `addresses` the answers of the guest's name lookups hold for it unread, every answer together (an answer with more keeps as many as there is room for; with no room the lookup fails with temporary-resolver-failure)")
	stack := fs.String("max-stack", "256MiB", "most call `stack` the guest's frames take, every level of nested calls together, as the stop flag weighs them: bytes, or with a KiB, MiB or GiB suffix (past it the call traps)")
	nested := intVar(fs, "max-nested-calls", cabi.DefaultNestingLimit, "most `levels` calls into the guest nest inside its host calls: destructors run by drops that drop more resources (past it the drop traps)")
	tables := intVar(fs, "max-table-entries", stopcheck.DefaultTableEntries, "most `entries` the tables of a core module hold together, 8 bytes of host memory each (past it table.grow returns -1; a module whose tables start with more is refused); the core instances of a component hold twice it together")
	pollSubs := intVar(fs, "max-poll-subscriptions", runtime.DefaultPollSubscriptions, "most `subscriptions` one wasi_snapshot_preview1 poll_oneoff may name, some 56 bytes of host memory each while it waits (past it the call answers inval)")
	coreInstances := intVar(fs, "max-core-instances", component.DefaultCoreInstances, "most core module `instances` a component's instantiation makes, nested components' included (past it the component is not instantiated)")
	return func() (runtime.Limits, error) {
		pages, err := parseMemory(*memory)
		if err != nil {
			return runtime.Limits{}, fmt.Errorf("--max-memory: %w", err)
		}
		if err := atLeast(1,
			flagInt{"max-handles", *handles}, flagInt{"max-sockets", *socks}, flagInt{"max-files", *files}, flagInt{"max-disk-files", *diskFiles},
			flagInt{"max-datagram-queue", *queue}, flagInt{"max-datagram-bytes", *dgBytes},
			flagInt{"max-lookups", *lookups}, flagInt{"max-lookup-grants", *grants}, flagInt{"max-lookup-addrs", *lookupAddrs},
			flagInt{"max-nested-calls", *nested}, flagInt{"max-core-instances", *coreInstances},
			flagInt{"max-poll-subscriptions", *pollSubs}); err != nil {
			return runtime.Limits{}, err
		}
		if *datagram < 1 || *datagram > 65535 {
			return runtime.Limits{}, fmt.Errorf("--max-datagram: want 1 to 65535 bytes, got %d", *datagram)
		}
		if err := sendLingerRange.check("send-linger", *linger); err != nil {
			return runtime.Limits{}, err
		}
		if *tables < 1 || *tables > math.MaxUint32 {
			return runtime.Limits{}, fmt.Errorf("--max-table-entries: want 1 to %d, got %d", uint64(math.MaxUint32), *tables)
		}
		// parseSize's error says what a size is, or how large one may
		// be (before, "want a positive size" for 5TiB or 99999999999GiB).
		diskBytes, err := parseSize(*disk)
		if err != nil {
			return runtime.Limits{}, fmt.Errorf("--max-disk-bytes: %w", err)
		}
		unsentBytes, err := parseSize(*unsent)
		if err != nil {
			return runtime.Limits{}, fmt.Errorf("--max-unsent-bytes: %w", err)
		}
		stackBytes, err := parseSize(*stack)
		if err != nil || stackBytes < stopcheck.StackUnit || stackBytes > 64<<30 {
			return runtime.Limits{}, fmt.Errorf("--max-stack: want a size between %d bytes and 64GiB (bytes, or with a KiB, MiB or GiB suffix), got %q", stopcheck.StackUnit, *stack)
		}
		return runtime.Limits{MemoryPages: pages, Handles: *handles, Sockets: *socks,
			Files: *files, Datagram: *datagram, DatagramQueue: *queue, DatagramBytes: *dgBytes, Lookups: *lookups, LookupGrants: *grants, LookupAddrs: *lookupAddrs, NestedCalls: *nested,
			TableEntries: *tables, CoreInstances: *coreInstances, Stack: stackBytes, SendLinger: *linger, UnsentBytes: unsentBytes, DiskBytes: diskBytes, DiskFiles: *diskFiles,
			PollSubscriptions: *pollSubs}, nil
	}
}

// poolFlags adds to "wasitls run" the budgets its guests share with
// every other of the process (runtime.Config.SocketPool, LookupPool),
// and returns a function that reads them once the flags are parsed: nil
// for a flag left at its default, the process's own pool.
func poolFlags(fs *flag.FlagSet) func() (socketPool, lookupPool *sockets.Pool, err error) {
	defSockets, defLookups := sockets.ProcessSockets().Limit(), sockets.ProcessLookups().Limit()
	socks := intVar(fs, "process-sockets", defSockets, "most `descriptors` the guests of the process hold together: their sockets, the connection each listener accepts next, and their open files and directories (preopens aside), the last eighth only for guests holding fewer than 16 (past it create-tcp-socket and create-udp-socket fail with new-socket-limit, and accept on a listener; open-at and read-directory with insufficient-memory, path_open with EIO); the default is the process's descriptor limit (RLIMIT_NOFILE) less a reserve for the host")
	lookups := intVar(fs, "process-lookups", defLookups, "most name `lookups` the guests of the process run at once, the last quarter only for guests running fewer than 2 (past it resolve-addresses fails with temporary-resolver-failure); the default is 256, or as many as two DNS sockets each fit in half the descriptor reserve where that is fewer")
	return func() (*sockets.Pool, *sockets.Pool, error) {
		if err := atLeast(1, flagInt{"process-sockets", *socks}, flagInt{"process-lookups", *lookups}); err != nil {
			return nil, nil, err
		}
		var sp, lp *sockets.Pool
		if *socks != defSockets {
			sp = sockets.NewSocketPool(*socks)
		}
		if *lookups != defLookups {
			lp = sockets.NewLookupPool(*lookups)
		}
		return sp, lp, nil
	}
}

// parseMemory parses a memory size into 64 KiB pages.
func parseMemory(s string) (uint32, error) {
	num, unit := s, uint64(1)
	for _, u := range []struct {
		suffix string
		size   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = n, u.size
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (want, say, 512MiB or 4GiB)", s)
	}
	const page = 64 << 10
	bytes := n * unit
	switch {
	case n > 1<<32 || bytes == 0:
		return 0, fmt.Errorf("%q: want between 64KiB and 4GiB", s)
	case bytes > runtime.DefaultMemoryPages*page:
		return 0, fmt.Errorf("%q is more than 4GiB, the most a wasm32 memory can address", s)
	case bytes%page != 0:
		return 0, fmt.Errorf("%q is not a multiple of 64KiB, the wasm page size", s)
	}
	return uint32(bytes / page), nil
}
