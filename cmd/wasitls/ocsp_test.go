package main

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestRunIdentityOCSP: --identity NAME=CERT,KEY,OCSP attaches the OCSP
// response to the identity, and a guest server that presents it
// (host-identity) staples it: a crypto/tls client receives it, on both
// backends. A response that does not parse, or is about another
// certificate, is refused before the guest runs.
func TestRunIdentityOCSP(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	other, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"other"}})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "web.pem"), filepath.Join(dir, "web.key")
	os.WriteFile(certFile, leaf.ChainPEM(), 0o644)
	os.WriteFile(keyFile, leaf.KeyPEM(), 0o600)
	respond := func(l *testpki.Leaf, name string) (string, []byte) {
		der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{Status: ocsp.Good, SerialNumber: l.Cert.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name)
		os.WriteFile(f, der, 0o644)
		return f, der
	}
	good, der := respond(leaf, "web.ocsp")
	wrong, _ := respond(other, "other.ocsp")
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("junk"), 0o644)
	guest := wasmFile(t, "../../runtime/tlshost/testdata/ocsp")

	// The certificate given for the response: one line saying so, no
	// dump of the ASN.1 decoder's state.
	for _, c := range []struct{ file, want string }{{junk, "not an OCSP response"}, {wrong, "serial number"},
		{certFile, certFile + ": not an OCSP response but PEM text; want the DER response"}} {
		code, _, stderr := runCLI(t, "--identity", "web="+certFile+","+keyFile+","+c.file, guest, "server", "web")
		if code == 0 || !strings.Contains(stderr, "--identity web") || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "asn1") {
			t.Errorf("%s: code %d, stderr %q", filepath.Base(c.file), code, stderr)
		}
	}
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncbuf.Buffer
			code := make(chan int, 1)
			go func() {
				code <- dispatch(ctx, []string{"run", "--backend", backend, "--allow-listen", "127.0.0.1:*",
					"--identity", "web=" + certFile + "," + keyFile + "," + good, guest, "server", "web"}, &stdout, &stderr)
			}()
			addr := waitListening(t, &stdout, &stderr, code)
			defer hangGuard(cancel)()
			c, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if got := c.ConnectionState().OCSPResponse; string(got) != string(der) {
				t.Errorf("stapled %d bytes, want the %d of --identity", len(got), len(der))
			}
			io.WriteString(c, "ping\n")
			if resp, err := io.ReadAll(c); err != nil || string(resp) != "hello ping\n" {
				t.Errorf("answer %q, %v", resp, err)
			}
			if got := <-code; got != 0 {
				t.Errorf("exit code %d: %s", got, stderr.String())
			}
		})
	}
}
