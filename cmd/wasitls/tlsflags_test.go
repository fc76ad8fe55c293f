package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestRunTLSFlags runs the minimal client example against a Go TLS server
// whose certificate comes from a throwaway CA: it fails without --ca (the
// guest prints the host's reason), works with it, --groups picks the
// key exchange, past --max-peer-cert-bytes the handshake fails naming
// the flag, and past --max-tls-settings-bytes connect does.
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
	testnet.ServeListener(t, ln, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 1024)
		if _, err := c.Read(buf); err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
	})
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

	// Each of these fails, its message naming the reason.
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		// A server's handshake (its chain above all) takes more than 1000
		// bytes: past --max-peer-cert-bytes the handshake fails naming it.
		{[]string{"--ca", caFile, "--max-peer-cert-bytes", "1000"}, "more than the 1000 allowed (tlshost.Config.PeerCertBytes, wasitls run --max-peer-cert-bytes)"},
		{[]string{"--max-peer-cert-bytes", "0"}, "--max-peer-cert-bytes: want at least 1, got 0"},
		// The server name the guest connects to ("localhost") takes 9
		// bytes: past --max-tls-settings-bytes connect fails naming it.
		{[]string{"--ca", caFile, "--max-tls-settings-bytes", "5"}, "more than the 5 allowed (tlshost.Config.SettingsBytes, wasitls run --max-tls-settings-bytes)"},
		{[]string{"--max-tls-settings-bytes", "0"}, "--max-tls-settings-bytes: want at least 1, got 0"},
		{[]string{"--groups", "x25519,nosuch"}, `unknown group "nosuch"`},
		// A group with a name that the backend does not implement.
		{[]string{"--groups", "x448"}, "X448 (0x001e) is not implemented by backend stdtls"},
		{[]string{"--ca", filepath.Join(t.TempDir(), "missing.pem")}, "--ca:"},
	} {
		args := append(append(append([]string{}, allow...), tc.flags...), guest, "localhost", port)
		if code, _, stderr := runCLI(t, args...); code == 0 || !strings.Contains(stderr, tc.want) {
			t.Fatalf("%s: code %d, stderr %q; want a failure saying %q", strings.Join(tc.flags, " "), code, stderr, tc.want)
		}
	}
}

// TestRunClientCAHint: a guest server that asks for a client certificate
// and gets one from an issuer the host does not trust notes --client-ca,
// not --ca, which trusts servers.
func TestRunClientCAHint(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	client, _ := other.Issue(testpki.LeafOptions{CommonName: "from another CA", Usage: testpki.ClientAuth})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "server.pem"), server.ChainPEM(), 0o644)
	os.WriteFile(filepath.Join(dir, "server.key"), server.KeyPEM(), 0o600)
	guest := wasmFile(t, "../../examples/server-showcase")

	var notes syncbuf.Buffer
	old := logOutput
	logOutput = &notes
	defer func() { logOutput = old }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	code := make(chan int, 1)
	go func() {
		code <- dispatch(ctx, []string{"run", "--allow-listen", "127.0.0.1:*", "--dir", dir + ":/certs", guest,
			"0", "/certs/server.key", "/certs/server.pem", "/certs/server.key", "/certs/server.pem", "1"}, &stdout, &stderr)
	}()
	addr := waitListening(t, &stdout, &stderr, code)
	defer hangGuard(cancel)()
	c, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost",
		Certificates: []tls.Certificate{client.TLSCertificate()}})
	if err == nil {
		// TLS 1.3: the server's verdict on the client arrives after the
		// client's handshake, on its first read.
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		io.ReadAll(c)
		c.Close()
	}
	want := "wasitls: a client's certificate is from an issuer the host does not trust: trust its CA with --client-ca FILE"
	for !strings.Contains(notes.String(), want) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-code
	if got := notes.String(); !strings.Contains(got, want) || strings.Contains(got, "--ca FILE") {
		t.Fatalf("notes %q; want %q and no note naming --ca\nstdout %q\nstderr %q", got, want, stdout.String(), stderr.String())
	}
}

// TestRunTrustFileCaps: --ca and --client-ca read their files up to
// tlshost.MaxTrustFile: a larger file, or a device that never ends, is an
// error naming the flag and the cap. Before, the file was read whole, and
// --ca /dev/zero ran the process out of memory.
func TestRunTrustFileCaps(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(big, make([]byte, tlshost.MaxTrustFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	files := []string{big}
	if _, err := os.Stat("/dev/zero"); err == nil {
		files = append(files, "/dev/zero")
	}
	guest := filepath.Join(t.TempDir(), "never-read.wasm")
	for _, flag := range []string{"--ca", "--client-ca"} {
		for _, f := range files {
			code, _, stderr := runCLI(t, flag, f, guest)
			want := fmt.Sprintf("%s: tlshost: %s: larger than %d KiB", flag, f, tlshost.MaxTrustFile>>10)
			if code == 0 || !strings.Contains(stderr, want) {
				t.Errorf("%s %s: code %d, stderr %q; want a failure saying %q", flag, f, code, stderr, want)
			}
		}
	}
}
