package main

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunIdentity: --identity NAME=CERT,KEY gives a guest client an
// identity it uses by name to answer a Go server's certificate request,
// without reading the key; bad specifications are refused.
func TestRunIdentity(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	client, _ := ca.Issue(testpki.LeafOptions{CommonName: "held by the host", Usage: testpki.ClientAuth})
	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(caFile, ca.CertPEM(), 0o644)
	os.WriteFile(certFile, client.ChainPEM(), 0o644)
	os.WriteFile(keyFile, client.KeyPEM(), 0o600)

	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{server.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(),
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
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil && len(tc.ConnectionState().PeerCertificates) > 0 {
				io.WriteString(c, "hi "+tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	guest := wasmFile(t, "../../runtime/tlshost/testdata/ext02")
	for _, backend := range []string{"stdtls", "circl-pq"} {
		code, stdout, stderr := runCLI(t, "--backend", backend, "--allow-connect", "localhost:"+port, "--ca", caFile,
			"--identity", "me="+certFile+","+keyFile, guest, "request", "localhost", port, "host:me", "-")
		if code != 0 || !strings.Contains(stdout, `server said "hi held by the host"`) {
			t.Errorf("%s: code %d, stdout %q, stderr %q", backend, code, stdout, stderr)
		}
	}
	notPEM := filepath.Join(dir, "notes.txt")
	os.WriteFile(notPEM, []byte("not a key\n"), 0o644)
	for _, bad := range []struct{ spec, mention string }{
		{"me", "want NAME=CERT,KEY"},
		{"me=" + certFile, "want NAME=CERT,KEY"},
		{"=" + certFile + "," + keyFile, "want NAME=CERT,KEY"},
		// CERT and KEY swapped: the message says which file holds what.
		{"me=" + keyFile + "," + certFile, "key " + certFile + ": identity: PEM holds a CERTIFICATE where a private key was expected"},
		// A key file that is neither PEM nor DER: one line saying so, no ASN.1 dump.
		{"me=" + certFile + "," + notPEM, "key " + notPEM + ": identity: the private key is neither PEM (no -----BEGIN line) nor DER"},
	} {
		code, _, stderr := runCLI(t, "--identity", bad.spec, guest, "algorithms")
		if code == 0 || !strings.Contains(stderr, "--identity") || !strings.Contains(stderr, bad.mention) || strings.Contains(stderr, "asn1") {
			t.Errorf("--identity %q: code %d, stderr %q; want it to mention %q", bad.spec, code, stderr, bad.mention)
		}
	}
}

// TestRunIdentityPathsWithCommas: a path holding a comma, which separates
// CERT from KEY, is given in double quotes, as in CSV. Before, such a path
// could not be given at all: the comma split it.
func TestRunIdentityPathsWithCommas(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	dir := filepath.Join(t.TempDir(), "a,b")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "leaf,1.pem"), filepath.Join(dir, `"leaf".key`)
	os.WriteFile(cert, leaf.ChainPEM(), 0o644)
	os.WriteFile(key, leaf.KeyPEM(), 0o600)
	guest := filepath.Join(t.TempDir(), "missing.wasm")
	quote := func(p string) string { return `"` + strings.ReplaceAll(p, `"`, `""`) + `"` }
	// Loaded: the run goes on to the guest file.
	code, _, stderr := runCLI(t, "--identity", "me="+quote(cert)+","+quote(key), guest)
	if code == 0 || strings.Contains(stderr, "--identity") || !strings.Contains(stderr, "guest: ") {
		t.Errorf("quoted paths: code %d, stderr %q; want the identity loaded and an error about the guest file", code, stderr)
	}
	for _, bad := range []struct{ spec, mention string }{
		{"me=" + cert + "," + key, "want NAME=CERT,KEY"},                       // unquoted: four fields
		{"me=" + quote(cert+".missing") + "," + quote(key), cert + ".missing"}, // the whole path is named
		{`me="` + cert + "," + key, "want NAME=CERT,KEY"},                      // a quote not closed
	} {
		code, _, stderr := runCLI(t, "--identity", bad.spec, guest)
		if code == 0 || !strings.Contains(stderr, "--identity") || !strings.Contains(stderr, bad.mention) {
			t.Errorf("--identity %q: code %d, stderr %q; want it to mention %q", bad.spec, code, stderr, bad.mention)
		}
	}
}
