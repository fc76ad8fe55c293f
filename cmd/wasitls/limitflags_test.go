package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

func TestParseMemory(t *testing.T) {
	for _, tt := range []struct {
		in    string
		pages uint32
		err   string
	}{
		{"4GiB", 65536, ""},
		{"512MiB", 8192, ""},
		{"64KiB", 1, ""},
		{"65536", 1, ""},
		{"5GiB", 0, "more than 4GiB"},
		{"100KiB", 0, "not a multiple of 64KiB"},
		{"0", 0, "between 64KiB and 4GiB"},
		{"lots", 0, "not a size"},
	} {
		pages, err := parseMemory(tt.in)
		if tt.err == "" && (err != nil || pages != tt.pages) || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("parseMemory(%q) = %d, %v; want %d, %q", tt.in, pages, err, tt.pages, tt.err)
		}
	}
}

// Every limit is a flag of "wasitls run" whose default the help shows.
func TestRunHelpListsLimits(t *testing.T) {
	var out bytes.Buffer
	dispatch(context.Background(), []string{"help", "run"}, &out, &out)
	for _, want := range []string{
		`-max-memory memory`, `(default "4GiB")`,
		`-max-handles handles`, `(default 262144)`,
		`-max-sockets sockets`, `(default 4096)`,
		`-max-files files`, `(default 256)`,
		`-max-disk-bytes bytes`, `(default "4GiB")`,
		`-max-disk-files files`, `(default 16384)`,
		`-max-datagram bytes`, `(default 65507)`,
		`-max-datagram-queue datagrams`, `(default 64)`,
		`-max-datagram-bytes bytes`, `(default 16777216)`,
		`-max-lookups lookups`, `(default 64)`,
		`-send-linger duration`, `(default 30s)`,
		`-max-lookup-grants addresses`, `(default 4096)`,
		`-max-lookup-addrs addresses`, `(default 4096)`,
		`-max-nested-calls levels`, `(default 1000)`,
		`-max-table-entries entries`, `(default 10000000)`,
		`-max-core-instances instances`, `(default 10000)`,
		`-max-stack stack`, `(default "256MiB")`,
		`-max-pending-handshakes handshakes`, `(default 1024)`,
		`-max-identity-bytes bytes`, `(default 16777216)`,
		`-max-peer-cert-bytes bytes`, `(default 67108864)`,
		`-max-tls-settings-bytes bytes`, `(default 8388608)`,
		`-session-cache-size sessions`, `(default 64)`,
		`-ticket-key-rotation duration`, `(default 24h0m0s)`,
		`-max-peer-rsa-bits bits`, `(default 8192)`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("wasitls help run lacks %q", want)
		}
	}
}

// The flags reach the guest: past --max-handles a call traps naming the
// flag, past --max-memory the guest runs out of memory, past --max-stack
// its recursion traps naming the flag, and --send-linger bounds how long
// a dropped connection holds its socket.
func TestRunLimitFlags(t *testing.T) {
	hog := wasmFile(t, "../../runtime/testdata/hog")
	code, _, stderr := runCLI(t, "--max-handles", "100", hog, "pollables", "1000")
	if code != 1 || !strings.Contains(stderr, "subscribe-duration: cannot hold another wasi:io/poll.pollable") || !strings.Contains(stderr, "--max-handles") {
		t.Errorf("--max-handles 100: code %d, stderr %q", code, firstLine(stderr))
	}
	code, stdout, stderr := runCLI(t, "--max-memory", "64MiB", hog, "alloc", "0")
	if code == 0 || !strings.Contains(stderr, "out of memory") || strings.Contains(stdout, "allocated 64 MiB") {
		t.Errorf("--max-memory 64MiB: code %d, stdout %q, stderr %q", code, stdout, firstLine(stderr))
	}
	code, stdout, stderr = runCLI(t, "--max-stack", "4MiB", hog, "recurse", "100000")
	if code != 1 || !strings.Contains(stderr, "guest call stack exceeds its budget of 4194304 bytes") || !strings.Contains(stderr, "--max-stack") || stdout != "" {
		t.Errorf("--max-stack 4MiB: code %d, stdout %q, stderr %q", code, stdout, firstLine(stderr))
	}
	if code, stdout, stderr = runCLI(t, hog, "recurse", "100000"); code != 0 || stdout != "recursed 100000\n" {
		t.Errorf("100,000 calls deep under the default --max-stack: code %d, stdout %q, stderr %q", code, stdout, firstLine(stderr))
	}
	// A dropped connection to a peer that reads nothing holds its socket
	// for --send-linger: with --max-sockets 1, the next socket is made
	// after it.
	peer := testnet.Serve(t, nil) // reads nothing, until the test ends
	port := strconv.Itoa(peer.Port)
	code, stdout, stderr = runCLI(t, "--allow-connect", "127.0.0.1:"+port, "--max-sockets", "1", "--send-linger", "300ms", hog, "linger", port)
	var ms int
	if _, err := fmt.Sscanf(stdout, "socket again after %d ms", &ms); code != 0 || err != nil || ms < 250 || ms > 5000 {
		t.Errorf("--send-linger 300ms: code %d, stdout %q, stderr %q; want a socket again some 300 ms after the drop", code, stdout, firstLine(stderr))
	}
	if code, _, stderr = runCLI(t, "--send-linger", "0s", hog, "linger", port); code == 0 || !strings.Contains(stderr, "--send-linger 0s: want a duration from 10ms to 24h0m0s") {
		t.Errorf("--send-linger 0s: code %d, stderr %q", code, firstLine(stderr))
	}
}

// --max-disk-bytes reaches the guest's file system: under 1 MiB a guest
// cannot set a file's size to 1 TiB, and makes 255 directories of 4 KiB
// beside its file; a size that is not positive, or too large, is refused
// with what a size may be, by it and by --max-unsent-bytes.
func TestRunDiskBytesFlag(t *testing.T) {
	guest := wasmFile(t, "../../runtime/testdata/diskquota")
	code, stdout, stderr := runCLI(t, "--max-disk-bytes", "1MiB", "--dir", t.TempDir()+":/rw", guest, "p1")
	if code != 0 || !strings.Contains(stdout, "set-size 1 TiB (fd_filestat_set_size): quota, size 0\n") ||
		!strings.Contains(stdout, "mkdir until refused: 255 made, then quota\n") {
		t.Errorf("--max-disk-bytes 1MiB: code %d, stdout %q, stderr %q", code, stdout, firstLine(stderr))
	}
	for _, flag := range []string{"--max-disk-bytes", "--max-unsent-bytes"} {
		for value, want := range map[string]string{
			"0":              `bad size "0": want a positive number with an optional KiB, MiB or GiB suffix`,
			"5TiB":           `bad size "5TiB": want a positive number with an optional KiB, MiB or GiB suffix`,
			"99999999999GiB": `bad size "99999999999GiB": want at most 8589934591GiB`,
		} {
			want = flag + ": " + want
			if code, _, stderr = runCLI(t, flag, value, guest, "p1"); code == 0 || !strings.Contains(stderr, want) {
				t.Errorf("%s %s: code %d, stderr %q, want %q", flag, value, code, firstLine(stderr), want)
			}
		}
	}
}

// --max-disk-files reaches the guest's file system: under 100 a guest
// grows 100 files, and the next growth is refused; a count that is not
// positive is refused.
func TestRunDiskFilesFlag(t *testing.T) {
	guest := wasmFile(t, "../../runtime/testdata/diskquota")
	code, stdout, stderr := runCLI(t, "--max-disk-files", "100", "--dir", t.TempDir()+":/rw", guest, "files-p1")
	if code != 0 || !strings.Contains(stdout, "grow files until refused: 100 grown, then quota\n") {
		t.Errorf("--max-disk-files 100: code %d, stdout %q, stderr %q", code, stdout, firstLine(stderr))
	}
	if code, _, stderr = runCLI(t, "--max-disk-files", "0", guest, "files-p1"); code == 0 || !strings.Contains(stderr, "max-disk-files") {
		t.Errorf("--max-disk-files 0: code %d, stderr %q", code, firstLine(stderr))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestRunTableEntriesFlag: --max-table-entries bounds a module's tables,
// run with the stop flag or, for a module the rewriter refuses (it
// exports a name the rewriter reserves), with wazero's termination
// checks: the guest's table.grow of one entry past the flag returns -1
// (exit code 11), of the flag's entries succeeds (exit code 10).
func TestRunTableEntriesFlag(t *testing.T) {
	for _, refused := range []bool{false, true} {
		for _, tc := range []struct {
			grow int32
			code int
		}{{1001, 11}, {1000, 10}} {
			var m wasmbin.Module
			exit := exitingCommand(&m)
			m.Table(0x70, 0, -1)
			if refused {
				m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, m.Global(wasmbin.I32, true, wasmbin.I32Const(0)))
			}
			// proc_exit(10 + (table.grow(ref.null func, grow) == -1))
			body := wasmbin.Cat(wasmbin.I32Const(10), []byte{0xd0, 0x70}, wasmbin.I32Const(tc.grow), []byte{0xfc, 0x0f, 0x00},
				wasmbin.I32Const(-1), []byte{0x46, 0x6a, 0x10}, wasmbin.ULEB(uint64(exit)))
			m.Export("_start", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, body))
			code, _, stderr := runCLI(t, "--max-table-entries", "1000", writeWasm(t, "tables.wasm", m.Bytes()))
			if code != tc.code || refused != strings.Contains(stderr, "wazero's termination checks") {
				t.Errorf("refused by the rewriter %v, grow %d: code %d, want %d; stderr %q", refused, tc.grow, code, tc.code, stderr)
			}
		}
	}
	code, _, stderr := runCLI(t, "--max-table-entries", "0", "x.wasm")
	if code == 0 || !strings.Contains(stderr, "--max-table-entries: want 1 to") {
		t.Errorf("--max-table-entries 0: code %d, stderr %q", code, stderr)
	}
}

// TestRunComponentInstanceFlags: --max-core-instances and --max-memory
// bound what a component's instantiation makes the host hold, nested
// components' instances included: a component of 2^4 core instances, each
// with a one-page memory, is refused one below either, naming the flag,
// and instantiated at them.
func TestRunComponentInstanceFlags(t *testing.T) {
	var m wasmbin.Module
	m.Memory(1, -1)
	path := writeWasm(t, "instances.wasm", wasmbin.DoublingInstances(wasmbin.CoreInstances(m.Bytes(), 1), 4))
	for _, tc := range []struct {
		args []string
		want string // in stderr; "" for an instantiation that succeeds
	}{
		{[]string{"--max-core-instances", "15"}, "more than 15 core instances (runtime.Limits.CoreInstances, wasitls run --max-core-instances)"},
		{[]string{"--max-memory", "960KiB"}, "more than the 983040 the host allows (runtime.Limits.MemoryPages, wasitls run --max-memory)"},
		{[]string{"--max-core-instances", "16", "--max-memory", "1MiB"}, ""},
	} {
		code, _, stderr := runCLI(t, append(tc.args, path)...)
		if tc.want != "" && (code == 0 || !strings.Contains(stderr, tc.want)) {
			t.Errorf("%v: code %d, stderr %q; want %q", tc.args, code, stderr, tc.want)
		}
		// The component has no wasi:cli/run export: instantiated, it
		// fails there.
		if tc.want == "" && (strings.Contains(stderr, "core instances") || strings.Contains(stderr, "host allows")) {
			t.Errorf("%v: stderr %q, want the component instantiated", tc.args, stderr)
		}
	}
	code, _, stderr := runCLI(t, "--max-core-instances", "0", "x.wasm")
	if code == 0 || !strings.Contains(stderr, "--max-core-instances: want at least 1") {
		t.Errorf("--max-core-instances 0: code %d, stderr %q", code, stderr)
	}
}

// TestRunStackFlagChecked: --max-stack bounds a module the stop flag's
// rewriter refuses (it exports a name the rewriter reserves), which runs
// under wazero's termination checks: its recursion without end traps
// naming the flag. A module with a function of several results and no
// type [] -> those results, which the rewriter refused before, runs with
// the stop flag.
func TestRunStackFlagChecked(t *testing.T) {
	var m wasmbin.Module
	exit := exitingCommand(&m)
	m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, m.Global(wasmbin.I32, true, wasmbin.I32Const(0)))
	// _start calls itself without end (function 1, after the import).
	m.Export("_start", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(exit+1)))))
	code, stdout, stderr := runCLI(t, "--max-stack", "1MiB", writeWasm(t, "recurse.wasm", m.Bytes()))
	if code != 1 || !strings.Contains(stderr, "running the guest with wazero's termination checks") ||
		!strings.Contains(stderr, "guest call stack exceeds its budget of 1048576 bytes (runtime.Limits.Stack, wasitls run --max-stack)") {
		t.Errorf("--max-stack 1MiB, under wazero's checks: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	var mv wasmbin.Module
	exit = exitingCommand(&mv)
	void := mv.Type(nil, nil)
	leaf := mv.Func(void, nil, nil)
	// pair(x) -> (i32, i32): a call, then (x, 4)
	pair := mv.Func(mv.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32, wasmbin.I32}), nil,
		wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)), []byte{0x20, 0x00}, wasmbin.I32Const(4)))
	// _start: proc_exit(the sum of pair(3))
	mv.Export("_start", wasmbin.ExportFunc, mv.Func(void, nil,
		wasmbin.Cat(wasmbin.I32Const(3), []byte{0x10}, wasmbin.ULEB(uint64(pair)), []byte{0x6a, 0x10}, wasmbin.ULEB(uint64(exit)))))
	code, _, stderr = runCLI(t, writeWasm(t, "multivalue.wasm", mv.Bytes()))
	if code != 7 || strings.Contains(stderr, "termination checks") {
		t.Errorf("a function of two results without a [] -> [i32 i32] type: code %d, stderr %q; want 7 under the stop flag", code, stderr)
	}
}

// TestPoolFlags: --process-sockets and --process-lookups left at their
// defaults keep the process's pools (nil); set, they make pools of their
// size, with the default pools' shares of spare units and floors; zero
// is refused.
func TestPoolFlags(t *testing.T) {
	read := func(args ...string) (*sockets.Pool, *sockets.Pool, error) {
		t.Helper()
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		pools := poolFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return pools()
	}
	if sp, lp, err := read(); sp != nil || lp != nil || err != nil {
		t.Fatalf("no flags: %v, %v, %v; want the process's pools", sp, lp, err)
	}
	sp, lp, err := read("--process-sockets", "800", "--process-lookups", "40")
	if err != nil || sp == nil || lp == nil {
		t.Fatalf("flags set: %v, %v, %v", sp, lp, err)
	}
	if sp.Limit() != 800 || sp.Spare() != 100 || sp.Floor() != sockets.DefaultSocketFloor {
		t.Errorf("--process-sockets 800: limit %d, spare %d, floor %d", sp.Limit(), sp.Spare(), sp.Floor())
	}
	if lp.Limit() != 40 || lp.Spare() != 10 || lp.Floor() != sockets.DefaultLookupFloor {
		t.Errorf("--process-lookups 40: limit %d, spare %d, floor %d", lp.Limit(), lp.Spare(), lp.Floor())
	}
	for _, f := range []string{"--process-sockets", "--process-lookups"} {
		if _, _, err := read(f, "0"); err == nil {
			t.Errorf("%s 0 accepted", f)
		}
	}
}
