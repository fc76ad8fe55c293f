package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunResumptionFlags: --session-cache-size reaches the host. A guest
// client connects twice to a Go server: by default the second connection
// resumes; with --session-cache-size 0 it does not. A negative size and a
// negative --ticket-key-rotation are refused.
func TestRunResumptionFlags(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, ca.CertPEM(), 0o644)
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
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
			line, _ := bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, "hello "+line)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	guest := wasmFile(t, "../../runtime/tlshost/testdata/resume")
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "conn 1: resumed=true"},
		{[]string{"--session-cache-size", "0"}, "conn 1: resumed=false"},
	} {
		args := append(append([]string{"--allow-connect", "localhost:" + port, "--ca", caFile}, tc.flags...), guest, "client", "localhost:"+port, "2")
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || !strings.Contains(stdout, "conn 0: resumed=false") || !strings.Contains(stdout, tc.want) {
			t.Errorf("%v: code %d, stdout %q, stderr %q", tc.flags, code, stdout, stderr)
		}
	}
	for _, flags := range [][]string{{"--session-cache-size", "-1"}, {"--ticket-key-rotation", "-1s"}} {
		code, _, stderr := runCLI(t, append(flags, guest, "client", "localhost:"+port, "1")...)
		if code == 0 || !strings.Contains(stderr, flags[0]) {
			t.Errorf("%v: code %d, stderr %q", flags, code, stderr)
		}
	}
}
