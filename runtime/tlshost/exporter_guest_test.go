package tlshost_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpeer"
)

// TestGuestExportKeyingMaterial: a wasm guest client and server export
// keying material on both backends; the values match crypto/tls's exporter
// and OpenSSL's -keymatexport on the other end.
func TestGuestExportKeyingMaterial(t *testing.T) {
	p := newGuestPKI(t)
	openssl := testpeer.OpenSSL.Path(t)
	const label = "EXPORTER-Channel-Binding"
	exported := func(t *testing.T, out string) []byte {
		t.Helper()
		i := strings.Index(out, "exported ")
		if i < 0 {
			t.Fatalf("no exported value:\n%s", out)
		}
		line := out[i+len("exported "):]
		b, err := hex.DecodeString(line[:strings.IndexByte(line, '\n')])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("ClientGoServer", func(t *testing.T) {
			cases := []struct {
				ctxArg string
				ctx    []byte
				max    uint16
			}{{"0102", []byte{1, 2}, 0}, {"none", nil, 0}}
			if backend == "stdtls" {
				// TLS 1.2 (RFC 5705): no context and an empty one differ.
				cases = append(cases, struct {
					ctxArg string
					ctx    []byte
					max    uint16
				}{"none", nil, tls.VersionTLS12}, struct {
					ctxArg string
					ctx    []byte
					max    uint16
				}{"empty", []byte{}, tls.VersionTLS12})
			}
			var tls12 [][]byte
			for _, c := range cases {
				port, results := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}, MaxVersion: c.max})
				out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "export-client", "localhost", port, label, c.ctxArg, "32").wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				got := exported(t, out)
				res := <-results
				want, err := res.state.ExportKeyingMaterial(label, c.ctx, 32)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("context %s, max version %#04x: guest exported %x; crypto/tls %x (%v)", c.ctxArg, c.max, got, want, err)
				}
				if c.max == tls.VersionTLS12 {
					tls12 = append(tls12, got)
				}
			}
			if len(tls12) == 2 && bytes.Equal(tls12[0], tls12[1]) {
				t.Error("TLS 1.2: no context and an empty context exported the same value")
			}
		})
		t.Run("ClientOpenSSLServer", func(t *testing.T) {
			addr, sout := startOpenSSLServer(t, openssl, "-cert", filepath.Join(p.dir, "localhost.pem"), "-key", filepath.Join(p.dir, "localhost.key"),
				"-keymatexport", label, "-keymatexportlen", "48")
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "export-client", "localhost", port, label, "none", "48").wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := exported(t, out)
			want := waitKeyingMaterial(t, sout)
			if !strings.EqualFold(hex.EncodeToString(got), want) {
				t.Errorf("guest exported %x; openssl s_server %s", got, want)
			}
		})
		t.Run("ServerGoClient", func(t *testing.T) {
			g := startGuest(t, backend, p, "./testdata/ext02", nil, "export-server", "/certs/localhost.key", "/certs/localhost.pem", label, "0a0b0c", "64")
			c, err := tls.Dial("tcp4", "127.0.0.1:"+g.port(t), &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(c)
			cs := c.ConnectionState()
			want, err := cs.ExportKeyingMaterial(label, []byte{10, 11, 12}, 64)
			c.Close()
			out, gerr := g.wait(t)
			if gerr != nil {
				t.Fatalf("%v\n%s", gerr, out)
			}
			if got := exported(t, out); err != nil || !bytes.Equal(got, want) {
				t.Errorf("guest exported %x; crypto/tls %x (%v)", got, want, err)
			}
		})
		t.Run("ServerOpenSSLClient", func(t *testing.T) {
			g := startGuest(t, backend, p, "./testdata/ext02", nil, "export-server", "/certs/localhost.key", "/certs/localhost.pem", label, "none", "32")
			cmd := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+g.port(t), "-servername", "localhost",
				"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error", "-ign_eof", "-keymatexport", label, "-keymatexportlen", "32")
			cmd.Stdin = strings.NewReader("")
			got, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl: %v\n%s", err, got)
			}
			out, err := g.wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var sb syncbuf.Buffer
			sb.Write(got)
			if want := waitKeyingMaterial(t, &sb); !strings.EqualFold(hex.EncodeToString(exported(t, out)), want) {
				t.Errorf("guest exported %x; openssl s_client %s", exported(t, out), want)
			}
		})
		t.Run("Refused", func(t *testing.T) {
			port, _ := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "export-client", "localhost", port, label, "none", "9000").wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			mustContain(t, out, "export: error: wasitls: the host could not export keying material: tlshost: export-client-keying-material: length 9000, want 1 to 8160")
		})
		// The guest chooses the label, and TLS 1.3's HKDF-Expand-Label
		// holds 249 bytes of it: both backends panicked on a longer one
		// (crypto/tls's own exporter panics), which trapped the guest
		// with "host panic" or crashed the host. Now the longest label
		// exports what crypto/tls exports, and one byte more is refused.
		t.Run("LabelBound", func(t *testing.T) {
			long := strings.Repeat("L", 249)
			port, results := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "export-client", "localhost", port, long, "none", "32").wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			res := <-results
			want, werr := res.state.ExportKeyingMaterial(long, nil, 32)
			if got := exported(t, out); werr != nil || !bytes.Equal(got, want) {
				t.Errorf("249-byte label: guest exported %x; crypto/tls %x (%v)", got, want, werr)
			}
			for _, n := range []int{250, 300, 70000} {
				port, _ := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
				out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "export-client", "localhost", port, strings.Repeat("L", n), "none", "32").wait(t)
				if err != nil {
					t.Fatalf("%d-byte label: %v\n%s", n, err, out)
				}
				mustContain(t, out, "export: error: wasitls: the host could not export keying material: tlshost: export-client-keying-material: ")
				mustContain(t, out, fmt.Sprintf("exporter label of %d bytes: at most 249 in TLS 1.3", n))
			}
			g := startGuest(t, backend, p, "./testdata/ext02", nil, "export-server", "/certs/localhost.key", "/certs/localhost.pem", strings.Repeat("L", 300), "0a0b0c", "32")
			c, err := tls.Dial("tcp4", "127.0.0.1:"+g.port(t), &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(c)
			c.Close()
			out, gerr := g.wait(t)
			if gerr != nil {
				t.Fatalf("%v\n%s", gerr, out)
			}
			mustContain(t, out, "export-server-keying-material: ")
			mustContain(t, out, "exporter label of 300 bytes: at most 249 in TLS 1.3")
		})
	})
}

// startOpenSSLServer runs `openssl s_server` for one connection in its
// default mode, which prints the connection's details (-keymatexport among
// them), and returns its address and its output.
func startOpenSSLServer(t *testing.T, openssl string, args ...string) (string, *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(openssl, append([]string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// An open stdin: s_server ends the connection at the end of its input.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	out := new(syncbuf.Buffer)
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewReader(stdout)
	for {
		line, err := lines.ReadString('\n')
		out.Write([]byte(line))
		if err != nil {
			t.Fatalf("openssl s_server did not start: %v\n%s", err, out.String())
		}
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ACCEPT "); ok {
			go io.Copy(out, lines)
			return addr, out
		}
	}
}

// waitKeyingMaterial waits for OpenSSL's "Keying material: HEX" line.
func waitKeyingMaterial(t *testing.T, out *syncbuf.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := out.String()
		if i := strings.Index(s, "Keying material: "); i >= 0 {
			rest := s[i+len("Keying material: "):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				return strings.TrimSpace(rest[:j])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl printed no keying material:\n%s", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
