package main

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunTLSFlags runs the minimal client example against a Go TLS server
// whose certificate comes from a throwaway CA: it fails without --ca (the
// guest prints the host's reason), works with it, and --groups picks the
// key exchange.
func TestRunTLSFlags(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	groups := make(chan tls.CurveID, 8)
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		VerifyConnection: func(cs tls.ConnectionState) error {
			groups <- cs.CurveID
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				if _, err := c.Read(buf); err != nil {
					return
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
			}()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	guest := wasmFile(t, "../../examples/client-minimal")
	allow := []string{"--allow-connect", "localhost:" + port}

	// Without --ca the guest prints the host's reason, and the command
	// notes once that --ca is the fix (--log-tls logs the failure instead).
	var notes bytes.Buffer
	old := logOutput
	logOutput = &notes
	defer func() { logOutput = old }()
	code, stdout, stderr := runCLI(t, append(allow, guest, "localhost", port)...)
	if code == 0 || !strings.Contains(stderr, "unknown authority") {
		t.Fatalf("without --ca: code %d, stdout %q, stderr %q; want a failure naming the unknown authority", code, stdout, stderr)
	}
	if got := notes.String(); strings.Count(got, "trust its CA with --ca FILE") != 1 {
		t.Fatalf("without --ca: notes %q, want one naming --ca", got)
	}
	notes.Reset()
	runCLI(t, append(allow, "--log-tls", guest, "localhost", port)...)
	if got := notes.String(); strings.Contains(got, "--ca FILE") || !strings.Contains(got, "unknown authority") {
		t.Fatalf("--log-tls: notes %q, want the logged failure and no note", got)
	}
	logOutput = old
	for _, tc := range []struct {
		groups string
		want   tls.CurveID
	}{
		{"", tls.X25519MLKEM768},
		{"x25519", tls.X25519},
		{"0x0017", tls.CurveP256},
	} {
		for len(groups) > 0 {
			<-groups
		}
		args := append(append([]string{}, allow...), "--ca", caFile)
		if tc.groups != "" {
			args = append(args, "--groups", tc.groups)
		}
		code, stdout, stderr = runCLI(t, append(args, guest, "localhost", port)...)
		if code != 0 || !strings.Contains(stdout, "200 OK") {
			t.Fatalf("--ca, --groups %q: code %d, stdout %q, stderr %q", tc.groups, code, stdout, stderr)
		}
		if got := <-groups; got != tc.want {
			t.Errorf("--groups %q: server negotiated %v, want %v", tc.groups, got, tc.want)
		}
	}

	code, _, stderr = runCLI(t, append(allow, "--groups", "x25519,nosuch", guest, "localhost", port)...)
	if code == 0 || !strings.Contains(stderr, `unknown group "nosuch"`) {
		t.Fatalf("bad --groups: code %d, stderr %q", code, stderr)
	}
	// A group with a name that the backend does not implement.
	code, _, stderr = runCLI(t, append(allow, "--groups", "x448", guest, "localhost", port)...)
	if code == 0 || !strings.Contains(stderr, "X448 (0x001e) is not implemented by backend stdtls") {
		t.Fatalf("--groups x448: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, append(allow, "--ca", filepath.Join(t.TempDir(), "missing.pem"), guest, "localhost", port)...)
	if code == 0 || !strings.Contains(stderr, "--ca:") {
		t.Fatalf("missing --ca file: code %d, stderr %q", code, stderr)
	}
}
