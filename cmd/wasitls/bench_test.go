package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBench runs the bench command at tiny sizes and checks the tables it
// prints.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the benchmark guest")
	}
	var out, errOut bytes.Buffer
	args := []string{"bench", "-q", "-scenarios", "bulk,handshake,idle", "-backends", "stdtls",
		"-bytes", "256KiB", "-in-guest-bytes", "64KiB", "-writes", "16KiB", "-groups", "X25519",
		"-handshakes", "3", "-in-guest-handshakes", "2", "-idle-conns", "20", "-native-idle-conns", "20"}
	if code := dispatch(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"GOMAXPROCS",
		"bulk upload, 16 KiB writes",
		"bulk download, 16 KiB writes",
		"handshakes, X25519, ECDSA P-256, subject as client",
		"handshakes, X25519, ECDSA P-256, subject as server",
		"guest wasi:tls stdtls",
		"guest in-wasm crypto/tls",
		"native crypto/tls",
		"idle established TLS connections",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "-bytes", "12XB"},
		{"bench", "-groups", "P-999"},
		{"bench", "-scenarios", "nope", "-backends", "stdtls"},
		{"bench", "-backends", "no-such-backend"},
		{"bench", "extra"},
		{"bench", "soak", "-duration", "0s"},
		{"bench", "soak", "-group", "P-999"},
		{"bench", "soak", "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(context.Background(), args, &out, &errOut); code == 0 {
			t.Errorf("%q: exit code 0", args)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "16KiB": 16 << 10, "256MiB": 256 << 20, "1GiB": 1 << 30, "7B": 7} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1KiB", "KiB", "1TB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}
