package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/wasitls/wasitls/bench"
)

const soakUsage = `usage: wasitls bench soak [flags]

Runs the benchmark guest as a TLS echo server on each backend at once for
the given duration, under mixed load from native clients: full handshakes,
bulk transfers, 1-byte echoes, clients that leave mid-handshake, resets
right after the handshake, silent peers and peers that send half a
ClientHello, which the host's handshake timeout must close. Every interval
the load pauses until the connections in flight are done, and it prints
the process's RSS, live Go heap, the guests' memory, goroutines, open
descriptors and the guests' resource-table entries. At the end it prints
the slope of each after a warm-up and fails (exit status 1) when one grew
beyond noise or a connection ended other than as its kind should.

Run it from the module's source tree (go run ./cmd/wasitls bench soak): the
guest is built from source.

flags:
`

func soakCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := durationVar(fs, "duration", 5*time.Minute, "how long to run")
	interval := durationVar(fs, "interval", 10*time.Second, "time between samples")
	backendList := fs.String("backends", "", "comma-separated `list` of backends to serve (default every registered backend)")
	workers := intVar(fs, "workers", 3, "clients running the fast kinds of connection at once")
	handshakeTimeout := durationVar(fs, "handshake-timeout", 2*time.Second, "the wasi:tls host's handshake timeout")
	slowHold := durationVar(fs, "slow-hold", 0, "how long a silent or half-ClientHello peer waits for the server to give up before that counts as a failure (default the handshake timeout + 8s)")
	group := fs.String("group", "X25519MLKEM768", "key-exchange `group`")
	fs.Usage = func() {
		fmt.Fprint(stderr, soakUsage)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	// bench.SoakOptions takes 0 and below for the defaults: a value
	// written on the command line is refused instead.
	switch {
	case *duration <= 0:
		return fmt.Errorf("--duration %v: want a positive duration", *duration)
	case *interval < 100*time.Millisecond:
		// Each sample reads the process's figures and prints a line: at
		// --interval 1ns the samples were all the soak did.
		return fmt.Errorf("--interval %v: want at least 100ms", *interval)
	case *workers < 1:
		return atLeast(1, flagInt{"workers", *workers})
	case *handshakeTimeout <= 0:
		return fmt.Errorf("--handshake-timeout %v: want a positive duration", *handshakeTimeout)
	case *slowHold < 0:
		return fmt.Errorf("--slow-hold %v: want a positive duration, or 0 for the handshake timeout + 8s", *slowHold)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	id, err := groupID(*group)
	if err != nil {
		return err
	}
	r, err := bench.Soak(bench.SoakOptions{
		Duration: *duration, Interval: *interval, Backends: split(*backendList),
		Workers: *workers, HandshakeTimeout: *handshakeTimeout, SlowHold: *slowHold, Group: id, Progress: stdout,
	})
	if r != nil {
		r.Print(stdout)
	}
	if err != nil {
		return err
	}
	if len(r.Failures()) > 0 {
		return errors.New("bench soak: growth or unexpected outcomes (see above)")
	}
	return nil
}
