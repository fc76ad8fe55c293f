package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunKeyLog: --keylog FILE (or $SSLKEYLOGFILE) appends the secrets of
// the guest's connections in the NSS format to a file only its owner can
// read, and says so on stderr.
func TestRunKeyLog(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.CertPEM(), 0o644)
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
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
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	guest := wasmFile(t, "../../runtime/tlshost/testdata/ext02")
	var notes bytes.Buffer
	old := logOutput
	logOutput = &notes
	defer func() { logOutput = old }()
	for _, backend := range []string{"stdtls", "circl-pq"} {
		for _, viaEnv := range []bool{false, true} {
			file := filepath.Join(dir, backend+"-keys.log")
			args := []string{"--backend", backend, "--allow-connect", "localhost:" + port, "--ca", caFile}
			if viaEnv {
				t.Setenv("SSLKEYLOGFILE", file)
			} else {
				os.Remove(file)
				args = append(args, "--keylog", file)
			}
			code, stdout, stderr := runCLI(t, append(args, guest, "say", "localhost", port, "hello")...)
			if code != 0 || !strings.Contains(stdout, "said it") || !strings.Contains(notes.String(), "writing TLS secrets to "+file) {
				t.Fatalf("%s: code %d, stdout %q, stderr %q, notes %q", backend, code, stdout, stderr, notes.String())
			}
			fi, err := os.Stat(file)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key log %v, %v; want mode 0600", fi, err)
			}
			b, _ := os.ReadFile(file)
			// The second run appends its connection's lines to the first's.
			runs := 1
			if viaEnv {
				runs = 2
			}
			for _, label := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", "SERVER_HANDSHAKE_TRAFFIC_SECRET ", "CLIENT_TRAFFIC_SECRET_0 ", "SERVER_TRAFFIC_SECRET_0 "} {
				if n := strings.Count(string(b), label); n != runs {
					t.Errorf("%s: key log has %d %slines, want %d:\n%s", backend, n, label, runs, b)
				}
			}
			os.Unsetenv("SSLKEYLOGFILE")
		}
	}
}

// TestKeyLogRemoved: a key log removed during a run is begun again at the
// next write. Before, every write failed once it was gone.
func TestKeyLogRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	w, err := openKeyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("CLIENT_RANDOM 00 00\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "CLIENT_RANDOM 00 00\n" {
		t.Fatalf("key log %q, %v; want the line", b, err)
	}
}

// TestRunSecretFilesReadableByOthers: a private key or key log every user
// of the system can read is warned about, naming the flag and the file,
// and the run goes on; one only its owner can read is not. Before, nothing
// was said.
func TestRunSecretFilesReadableByOthers(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	dir := t.TempDir()
	cert, key, keyLog := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "leaf.key"), filepath.Join(dir, "keys.log")
	os.WriteFile(cert, leaf.ChainPEM(), 0o644)
	var notes bytes.Buffer
	old := logOutput
	logOutput = &notes
	defer func() { logOutput = old }()
	for _, mode := range []os.FileMode{0o644, 0o600} {
		os.WriteFile(key, leaf.KeyPEM(), mode)
		os.WriteFile(keyLog, nil, mode)
		os.Chmod(key, mode)
		os.Chmod(keyLog, mode)
		notes.Reset()
		code, _, stderr := runCLI(t, "--identity", "me="+cert+","+key, "--keylog", keyLog, filepath.Join(dir, "missing.wasm"))
		if code == 0 || !strings.Contains(stderr, "guest: ") {
			t.Fatalf("mode %04o: code %d, stderr %q; want the run to reach the guest file", mode, code, stderr)
		}
		// Both warnings when others can read, neither when they cannot.
		if mode == 0o644 {
			if !strings.Contains(notes.String(), "--identity me: warning: the private key "+key+" can be read by every user (mode 0644)") ||
				!strings.Contains(notes.String(), "--keylog: warning: the key log "+keyLog+" can be read by every user") {
				t.Errorf("mode %04o: notes %q; want both warnings", mode, notes.String())
			}
		} else if strings.Contains(notes.String(), "warning") {
			t.Errorf("mode %04o: notes %q; want no warning", mode, notes.String())
		}
	}
}
