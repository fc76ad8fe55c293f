package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bench"
	"github.com/wasitls/wasitls/tlsnames"
)

func init() {
	// The idle scenario runs this program again as its connection holder.
	bench.RunChildIfRequested()
	register(&command{
		Name:    "bench",
		Summary: "measure wasi:tls against native crypto/tls and crypto/tls inside the guest",
		Run:     benchCommand,
	})
}

const benchUsage = `usage: wasitls bench [flags]

Builds the benchmark guest (bench/testdata/benchguest) for GOOS=wasip1 and
the C guest (bench/cguest, with clang and wasi-libc; its rows are skipped,
loudly, without them) and runs each scenario over loopback against its
baselines: native crypto/tls, and Go's crypto/tls compiled into the guest
over wasi:sockets. The native peer runs in this process and in a child
process (-peers). Subjects take turns in 8 runs; values are the medians
with the range, ratios are speed relative to native in the same run
(above 1 = faster).

  bulk       transfer each way with the given write sizes
  handshake  full TLS 1.3 handshakes per second, per group, the guest as
             client and as server
  echo       1-byte round trips over an established connection
  idle       host memory per idle connection held by a guest server, and
             the process's peak RSS (the clients run in a child process)

"wasitls bench soak" runs the soak instead ("wasitls bench soak -h").

Run it from the module's source tree (go run ./cmd/wasitls bench): the
guest is built from source.

flags:
`

// byteSize is a flag holding a size such as 256MiB, 64KiB or 1000.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	v, err := parseSize(s)
	*b = byteSize(v)
	return err
}

// parseSize reads a size such as 256MiB, 64KiB or 1000. Its errors quote
// s as written, suffix and all.
func parseSize(s string) (int64, error) {
	num, mult, suffix := s, int64(1), ""
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult, suffix = rest, u.mult, u.suffix
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange) || v <= 0:
		return 0, fmt.Errorf("bad size %q: want a positive number with an optional KiB, MiB or GiB suffix", s)
	case err != nil || v > math.MaxInt64/mult:
		return 0, fmt.Errorf("bad size %q: want at most %d%s", s, math.MaxInt64/mult, suffix)
	}
	return v * mult, nil
}

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "soak" {
		return soakCommand(ctx, args[1:], stdout, stderr)
	}
	d := bench.DefaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenarios := fs.String("scenarios", strings.Join(d.Scenarios, ","), "comma-separated `list` of scenarios to run")
	backendList := fs.String("backends", strings.Join(backends.Names(), ","), "comma-separated `list` of wasi:tls backends to measure")
	size, inGuestSize := byteSize(d.Bytes), byteSize(d.InGuestBytes)
	fs.Var(&size, "bytes", "bulk transfer `size` each way per subject (KiB, MiB, GiB suffixes)")
	fs.Var(&inGuestSize, "in-guest-bytes", "bulk transfer `size` for crypto/tls inside the guest")
	writes := fs.String("writes", "16KiB,64KiB", "comma-separated write `sizes` of the bulk scenario")
	groups := fs.String("groups", "X25519MLKEM768,X25519", "comma-separated key-exchange `groups` of the handshake scenario (the first also for bulk and echo)")
	handshakes := intVar(fs, "handshakes", d.Handshakes, "full handshakes per subject and group")
	inGuestHandshakes := intVar(fs, "in-guest-handshakes", d.InGuestHandshakes, "full handshakes for crypto/tls inside the guest")
	echoes := intVar(fs, "echoes", d.Echoes, "1-byte round trips per subject")
	idle := intVar(fs, "idle-conns", d.IdleConns, "idle connections a guest server holds")
	nativeIdle := intVar(fs, "native-idle-conns", d.NativeIdleConns, "idle connections the native baseline server holds")
	peers := fs.String("peers", strings.Join(bench.Peers, ","), "comma-separated `list` of places for the native peer: in-process, subprocess")
	markdown := fs.Bool("markdown", false, "print Markdown tables")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run to `file`")
	quiet := fs.Bool("q", false, "do not report progress on stderr")
	noChecks := fs.Bool("no-termination-checks", false, "compile the guests without any termination check (no stop flag, WithCloseOnContextDone(false)), to measure what the checks cost")
	checks := fs.String("checks", bench.ChecksStopFlag, "how core-module guests are stopped: "+bench.ChecksStopFlag+" (a global checked at loop headers, as wasitls run) or "+bench.ChecksWazero+" (wazero's WithCloseOnContextDone(true))")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	// The bench package takes a count of 0 for its default: one written
	// on the command line is refused, as a negative one is.
	if err := atLeast(1, flagInt{"handshakes", *handshakes}, flagInt{"in-guest-handshakes", *inGuestHandshakes},
		flagInt{"echoes", *echoes}, flagInt{"idle-conns", *idle}, flagInt{"native-idle-conns", *nativeIdle}); err != nil {
		return err
	}
	opts := bench.Options{
		Scenarios: split(*scenarios), Backends: split(*backendList),
		Bytes: int64(size), InGuestBytes: int64(inGuestSize),
		Handshakes: *handshakes, InGuestHandshakes: *inGuestHandshakes,
		Echoes: *echoes, IdleConns: *idle, NativeIdleConns: *nativeIdle,
		NoTerminationChecks: *noChecks, Checks: *checks, Peers: split(*peers),
	}
	for _, w := range split(*writes) {
		v, err := parseSize(w)
		if err == nil && v > 1<<30 {
			err = fmt.Errorf("bad size %q: want at most 1GiB", w)
		}
		if err != nil {
			return fmt.Errorf("--writes: %v", err)
		}
		opts.WriteSizes = append(opts.WriteSizes, int(v))
	}
	for _, g := range split(*groups) {
		id, err := groupID(g)
		if err != nil {
			return err
		}
		opts.Groups = append(opts.Groups, id)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if !*quiet {
		opts.Progress = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := bench.Run(opts)
	if *memProfile != "" {
		if perr := writeHeapProfile(*memProfile); perr != nil && err == nil {
			err = perr
		}
	}
	if r != nil && len(r.Tables)+len(r.Idle) > 0 {
		if *markdown {
			r.Markdown(stdout)
		} else {
			r.WriteTo(stdout)
		}
	}
	return err
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// groupID resolves a group by name or 0x code point.
func groupID(name string) (tls.CurveID, error) {
	id, err := tlsnames.ParseGroup(name)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return tls.CurveID(id), nil
}
