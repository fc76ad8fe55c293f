package main

import (
	"flag"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// commandFlags returns the flags of the command args names (such as
// "run" or "bench soak"), as its flag set holds them.
func commandFlags(t *testing.T, args ...string) []*flag.Flag {
	t.Helper()
	var flags []*flag.Flag
	flagSetHook = func(fs *flag.FlagSet) { fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) }) }
	defer func() { flagSetHook = nil }()
	if code, _, stderr := dispatchArgs(append(args, "-h")...); code != 0 {
		t.Fatalf("%s -h: code %d, stderr %q", strings.Join(args, " "), code, stderr)
	}
	return flags
}

// numericKind says whether f takes a whole number, a size or a duration.
// The flag package's own numeric flags count, so that one defined with
// fs.Int or fs.Duration, whose bad values get "parse error", fails
// TestNumericFlagErrors; a string flag counts as a size when its default
// is one.
func numericKind(f *flag.Flag) string {
	switch f.Value.(type) {
	case *intFlag:
		return "int"
	case *durationFlag:
		return "duration"
	case *byteSize:
		return "size"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case int, int64, uint, uint64, float64:
			return "int"
		case time.Duration:
			return "duration"
		}
	}
	if _, err := parseSize(f.DefValue); err == nil && strings.HasSuffix(f.DefValue, "iB") {
		return "size"
	}
	return ""
}

// TestNumericFlagErrors: every number, size and duration flag of every
// command answers a bad value with an error that names the flag and the
// value and says what to write. Each command gets an argument it refuses
// after its flags (a guest file that does not exist, for run), so that
// nothing runs if a bad value were taken.
func TestNumericFlagErrors(t *testing.T) {
	var names [][]string
	for name := range commands {
		names = append(names, []string{name})
	}
	names = append(names, []string{"bench", "soak"})
	slices.SortFunc(names, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
	missing := filepath.Join(t.TempDir(), "missing.wasm")
	bad := map[string][]string{
		"int":      {"abc", "4KiB", "1.5", "99999999999999999999", "-99999999999999999999"},
		"duration": {"30", "abc", "1.5"},
		"size":     {"abc", "4XiB"},
	}
	// The commands check their values after parsing: below their bounds
	// too. Of bench's counts and bench soak's flags none takes 0 (the bench
	// package reads 0 as its default, which a value written on the command
	// line must not silently become), but --slow-hold, whose default is 0.
	// run's ints and durations take 0 where it means "no bound" or "none".
	below := map[string]map[string][]string{
		"run":        {"int": {"-5"}, "duration": {"-5s"}, "size": {"-5", "0"}},
		"bench":      {"int": {"-5", "0"}, "size": {"-5", "0", "0KiB", "99999999999GiB"}},
		"bench soak": {"int": {"-5", "0"}, "duration": {"-5s", "0s"}},
	}
	zeroDefault := map[string]bool{"slow-hold": true}
	checked := 0
	for _, cmd := range names {
		for _, f := range commandFlags(t, cmd...) {
			kind := numericKind(f)
			if kind == "" {
				continue
			}
			values := slices.Clone(bad[kind])
			for _, v := range below[strings.Join(cmd, " ")][kind] {
				if !(zeroDefault[f.Name] && v == "0s") {
					values = append(values, v)
				}
			}
			last := "extra-argument"
			if cmd[0] == "run" {
				last = missing
			}
			for _, v := range values {
				// The reason is one line naming the flag and the value,
				// before any usage text (which names every flag).
				args := append(slices.Clone(cmd), "--"+f.Name, v, last)
				code, stdout, stderr := dispatchArgs(args...)
				line := firstLine(stderr)
				if code == 0 || stdout != "" || !strings.Contains(line, "-"+f.Name) || !strings.Contains(line, v) ||
					!strings.Contains(line, "want") || strings.Contains(stderr, "parse error") || strings.Contains(stderr, "out of range") {
					t.Errorf("wasitls %s: code %d, stdout %q, stderr %q; want an error naming --%s and %q and saying what to write",
						strings.Join(args, " "), code, stdout, firstLine(stderr), f.Name, v)
				}
				checked++
			}
		}
	}
	// The walk reaches the flags: run's limits and bench's counts among them.
	if checked < 100 {
		t.Errorf("checked %d bad values; the walk missed the numeric flags", checked)
	}
}

// TestBenchSizeErrors: a bad size given to bench's --bytes,
// --in-guest-bytes or --writes is quoted in the reason as it was
// written, suffix and all, and a size past what the flag holds is
// refused with the most it takes.
func TestBenchSizeErrors(t *testing.T) {
	for _, tc := range []struct {
		flag, value, quoted, want string
	}{
		{"bytes", "4XiB", "4XiB", "want a positive number with an optional KiB, MiB or GiB suffix"},
		{"bytes", "0MiB", "0MiB", "want a positive number"},
		{"in-guest-bytes", "-3KiB", "-3KiB", "want a positive number"},
		{"bytes", "9999999999GiB", "9999999999GiB", "want at most 8589934591GiB"},
		{"bytes", "99999999999999999999", "99999999999999999999", "want at most 9223372036854775807"},
		{"writes", "16KiB,4XiB", "4XiB", "want a positive number"},
		{"writes", "2GiB", "2GiB", "want at most 1GiB"},
	} {
		code, stdout, stderr := dispatchArgs("bench", "--"+tc.flag, tc.value, "extra-argument")
		line := firstLine(stderr)
		if code == 0 || stdout != "" || !strings.Contains(line, "-"+tc.flag) ||
			!strings.Contains(line, "bad size "+strconv.Quote(tc.quoted)+": "+tc.want) {
			t.Errorf("bench --%s %s: code %d, stdout %q, stderr %q; want bad size %q: %s", tc.flag, tc.value, code, stdout, line, tc.quoted, tc.want)
		}
	}
}

// TestAbsurdDurations: a duration flag out of its range is refused before
// anything runs, the error naming the flag and what it takes. Before,
// --ticket-key-rotation 1ns, --handshake-timeout 1ns, --send-linger 1ns
// and bench soak --interval 1ns were accepted.
func TestAbsurdDurations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--ticket-key-rotation", "1ns", "x.wasm"}, "--ticket-key-rotation 1ns: want a duration from 1s to 84h0m0s, or 0 for no tickets"},
		{[]string{"run", "--ticket-key-rotation", "100000h", "x.wasm"}, "--ticket-key-rotation 100000h0m0s: want a duration from 1s"},
		{[]string{"run", "--ticket-key-rotation", "-1s", "x.wasm"}, "--ticket-key-rotation -1s: want"},
		{[]string{"run", "--handshake-timeout", "1ns", "x.wasm"}, "--handshake-timeout 1ns: want a duration from 100ms to 24h0m0s, or 0 for no bound"},
		{[]string{"run", "--handshake-timeout", "1000h", "x.wasm"}, "--handshake-timeout 1000h0m0s: want"},
		{[]string{"run", "--send-linger", "1ns", "x.wasm"}, "--send-linger 1ns: want a duration from 10ms to 24h0m0s"},
		{[]string{"run", "--send-linger", "0", "x.wasm"}, "--send-linger 0s: want"},
		{[]string{"bench", "soak", "--interval", "1ns"}, "--interval 1ns: want at least 100ms"},
	} {
		code, _, stderr := dispatchArgs(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: code %d, stderr %q; want an error holding %q", tc.args, code, stderr, tc.want)
		}
	}
	// The edges and the zeros that mean something pass the flags' checks
	// (and fail on the missing guest file).
	for _, args := range [][]string{
		{"--ticket-key-rotation", "1s"}, {"--ticket-key-rotation", "84h"}, {"--ticket-key-rotation", "0"},
		{"--handshake-timeout", "100ms"}, {"--handshake-timeout", "0"}, {"--send-linger", "10ms"},
	} {
		code, _, stderr := dispatchArgs(append(append([]string{"run"}, args...), "/nonexistent/x.wasm")...)
		if code == 0 || !strings.HasPrefix(stderr, "guest:") && !strings.Contains(stderr, "guest: ") {
			t.Errorf("%v: code %d, stderr %q; want only the guest file's error", args, code, stderr)
		}
	}
}
