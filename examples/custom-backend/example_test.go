//go:build !wasip1

package custombackend_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tetratelabs/wazero"

	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	custombackend "github.com/wasitls/wasitls/examples/custom-backend"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Example embeds the allow-list backend in a host of your own: the guest
// (examples/client-minimal, built with GOOS=wasip1 GOARCH=wasm) asks the
// host for TLS to localhost; the backend admits the name, does the
// handshake and logs it. The backend goes in tlshost.Config.Backend, as
// here, or is registered with backends.Register and selected with
// tlshost.Config.BackendName. (The wasitls command links only the
// backends it imports, so it cannot select yours.) server and guest, at
// the end of this file, start a server and build the guest so that the
// example runs as a test; a program of your own reads the guest's .wasm
// file and its CA's PEM file (tlshost.LoadTrustAnchors) instead.
func Example() {
	port, roots, stop := server() // a TLS server on loopback and its CA
	defer stop()
	wasm := guest() // examples/client-minimal, for GOOS=wasip1

	var logs bytes.Buffer
	backend := custombackend.New(nil, []string{"localhost"}, slog.New(slog.NewTextHandler(&logs, nil)))

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig())
	defer r.Close(ctx)
	policy := new(sockets.Policy)
	if err := policy.AllowConnect("localhost:" + port); err != nil {
		log.Fatal(err)
	}
	rt, err := runtime.New(ctx, r, runtime.Config{
		StopFlag:   true,
		Network:    policy,
		Extensions: []runtime.Extension{tlshost.New(tlshost.Config{Backend: backend, RootCAs: roots})},
	})
	if err != nil {
		log.Fatal(err)
	}
	compiled, err := runtime.CompileModule(ctx, r, wasm)
	if err != nil {
		log.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"client-minimal", "localhost", port},
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if err != nil { // nil when the guest returns from main or exits with 0
		log.Fatalf("%v\n%s", err, stderr.String())
	}

	status, _, _ := strings.Cut(stdout.String(), "\r\n")
	_, body, _ := strings.Cut(stdout.String(), "\r\n\r\n")
	fmt.Println(status)
	fmt.Print(body)
	fmt.Println("handshake logged:", strings.Contains(logs.String(), `msg="tls handshake" side=client sni=localhost server_name=localhost`))
	// Output:
	// HTTP/1.1 200 OK
	// hello over TLS
	// handshake logged: true
}

// ExampleNew_circlPQ wraps the circl-pq backend instead of stdtls: pass it
// as the inner backend, which brings its algorithms (the pure ML-KEM
// groups, ML-DSA identities) and its inline fast path through the
// wrapper. The guest's handshake, logged by the wrapper, negotiates the
// hybrid post-quantum group.
func ExampleNew_circlPQ() {
	port, roots, stop := server()
	defer stop()
	wasm := guest()

	var logs bytes.Buffer
	backend := custombackend.New(circlpq.Backend{}, []string{"localhost"}, slog.New(slog.NewTextHandler(&logs, nil)))

	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	policy := new(sockets.Policy)
	if err := policy.AllowConnect("localhost:" + port); err != nil {
		log.Fatal(err)
	}
	rt, err := runtime.New(ctx, r, runtime.Config{
		StopFlag:   true,
		Network:    policy,
		Extensions: []runtime.Extension{tlshost.New(tlshost.Config{Backend: backend, RootCAs: roots})},
	})
	if err != nil {
		log.Fatal(err)
	}
	compiled, err := runtime.CompileModule(ctx, r, wasm)
	if err != nil {
		log.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"client-minimal", "localhost", port},
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if err != nil {
		log.Fatalf("%v\n%s", err, stderr.String())
	}
	status, _, _ := strings.Cut(stdout.String(), "\r\n")
	fmt.Println(status)
	fmt.Println("logged:", strings.Contains(logs.String(), `group="X25519MLKEM768 (0x11ec)"`))
	// Output:
	// HTTP/1.1 200 OK
	// logged: true
}

// server starts an HTTPS server on 127.0.0.1 with a certificate for
// localhost from a throwaway CA, and returns its port and the CA.
func server() (port string, roots *x509.CertPool, stop func()) {
	ca, err := testpki.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		io.WriteString(w, "hello over TLS\n")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}}
	srv.StartTLS()
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port, ca.Pool(), srv.Close
}

// guest builds examples/client-minimal for GOOS=wasip1 GOARCH=wasm.
func guest() []byte {
	wasm, err := guestbuild.Build("github.com/wasitls/wasitls/examples/client-minimal")
	if err != nil {
		log.Fatal(err)
	}
	return wasm
}
