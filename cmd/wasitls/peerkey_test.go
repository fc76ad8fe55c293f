package main

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunMaxPeerRSABits: --max-peer-rsa-bits reaches both backends. A
// server whose certificate holds a 4096-bit RSA key with no private key
// behind it (testpki.HugeRSAKey) fails a guest's handshake on its garbage
// signature by default, and on the key's size, before the signature, with
// --max-peer-rsa-bits 2048. A bound below 1024 is refused.
func TestRunMaxPeerRSABits(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.HugeRSAKey(4096)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}, PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
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
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	guest := wasmFile(t, "../../runtime/tlshost/testdata/giveup")
	const bound = "RSA key larger than 2048 bits (4096)"
	for _, backend := range []string{"stdtls", "circl-pq"} {
		for _, flags := range [][]string{nil, {"--max-peer-rsa-bits", "2048"}} {
			args := append([]string{"--allow-connect", "localhost:" + port, "--ca", caFile, "--backend", backend}, flags...)
			_, stdout, stderr := runCLI(t, append(args, guest, "client", "localhost:"+port, "10s")...)
			if !strings.Contains(stdout, "dial: ") || strings.Contains(stdout, "dial: <nil>") || strings.Contains(stdout, bound) != (flags != nil) {
				t.Errorf("%s %v: stdout %q, stderr %q; want a failed dial, naming the bound only with the flag", backend, flags, stdout, firstLine(stderr))
			}
		}
	}
	code, _, stderr := runCLI(t, "--max-peer-rsa-bits", "512", guest, "client", "localhost:"+port, "1s")
	if code == 0 || !strings.Contains(stderr, "--max-peer-rsa-bits") {
		t.Errorf("--max-peer-rsa-bits 512: code %d, stderr %q", code, firstLine(stderr))
	}
}
