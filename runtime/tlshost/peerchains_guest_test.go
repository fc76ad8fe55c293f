package tlshost_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// bigCertificate is a self-signed certificate, trusted by nobody, that
// carries an extension of kib KiB: a hostile peer's chain, as large as the
// backends' bound on a Certificate message lets it be.
func bigCertificate(t *testing.T, kib int) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{{
			Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, Value: make([]byte, kib<<10),
		}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// bigChainServer serves TLS on a loopback listener with cert, to every
// client, until the test ends.
func bigChainServer(t *testing.T, cert tls.Certificate) (port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				tls.Server(c, cfg).Handshake()
				io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port
}

// heapAfterGC is the host's live heap.
func heapAfterGC() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestGuestFailedHandshakesRelease: a guest whose client handshakes fail
// against a server sending a 200 KiB chain nobody trusts, and that keeps
// every failed connection and its future, makes the host hold far less
// than a chain per connection: the host lets go of the backend's
// connection (its buffers and the peer's parsed chain) when the
// handshake fails, not when the guest drops the handle. Before, each
// failed connection held about 400 KiB until dropped.
func TestGuestFailedHandshakesRelease(t *testing.T) {
	const chainKiB, warm, n = 200, 4, 32
	port := bigChainServer(t, bigCertificate(t, chainKiB))
	wasm := guestbuild.MustBuild(t, "./testdata/peerchains")
	eachBackend(t, func(t *testing.T, backend string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
		defer r.Close(context.Background())
		policy := new(sockets.Policy)
		policy.AllowConnect("localhost:*")
		ext := tlshost.New(tlshost.Config{BackendName: backend})
		rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{ext}})
		if err != nil {
			t.Fatal(err)
		}
		compiled, err := runtime.CompileModule(ctx, r, wasm)
		if err != nil {
			t.Fatal(err)
		}
		stdin, tell := io.Pipe()
		defer tell.Close()
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
				Args:  []string{"peerchains", "localhost", port, fmt.Sprint(warm), fmt.Sprint(n)},
				Stdin: stdin, Stdout: pw, Stderr: os.Stderr,
			})
			pw.CloseWithError(fmt.Errorf("guest exited: %v", err))
			done <- err
		}()
		lines := bufio.NewScanner(pr)
		next := func(prefix string) string {
			t.Helper()
			for lines.Scan() {
				if strings.HasPrefix(lines.Text(), prefix) {
					return lines.Text()
				}
				t.Log(lines.Text())
			}
			t.Fatalf("no %q line: %v", prefix, lines.Err())
			return ""
		}
		if out := next("failed: "); !strings.Contains(out, "certificate") {
			t.Errorf("%s: want a failure about the certificate", out)
		}
		next("warm ")
		before := heapAfterGC()
		io.WriteString(tell, "go\n")
		next("held ")
		after := heapAfterGC()
		grew := int64(after) - int64(before)
		t.Logf("%d failed connections held: host heap grew by %d KiB (%d KiB each); the chain is %d KiB", n, grew>>10, grew/n>>10, chainKiB)
		if bound := int64(n) * chainKiB << 10 / 4; grew > bound {
			t.Errorf("the host's heap grew by %d KiB for %d failed connections the guest holds, want under %d KiB (a quarter of a %d KiB chain each)", grew>>10, n, bound>>10, chainKiB)
		}
		tell.Close()
		if err := <-done; err != nil {
			t.Errorf("guest: %v", err)
		}
	})
}
