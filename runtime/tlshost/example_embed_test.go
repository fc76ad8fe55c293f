//go:build !wasip1

package tlshost_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Example_wazeroProgram adds wasi:tls to a wazero program that has a
// runtime and a host module of its own ("example", whose log function its
// guests import). What changes:
//
//   - runtime.New prepares the program's wazero.Runtime: it registers
//     wasi_snapshot_preview1 itself, so the program's own
//     wasi_snapshot_preview1.Instantiate call goes (New refuses a runtime
//     that has one: its guests would miss the runtime's guards);
//   - guests are compiled by runtime.CompileModule and instantiated by
//     rt.Instantiate, not wazero's, which has none of the WASI 0.2 host
//     modules;
//   - what the program's wazero.ModuleConfig set goes in
//     runtime.ModuleConfig: arguments, environment, standard streams and
//     directories in its fields, anything else in its Configure.
//
// The program's host modules stay as they are: Instantiate resolves a
// guest's other imports against the wazero.Runtime, as wazero does. The
// guest (testdata/hostmodule, built with GOOS=wasip1 GOARCH=wasm) logs
// through the host module and fetches a URL from an HTTPS server on
// loopback with net/http. httpsServer and buildGuest are this file's
// helpers (the server, its CA, and go build for wasip1): a program of its
// own reads the guest's .wasm file and its CA's PEM file
// (tlshost.LoadTrustAnchors).
func Example_wazeroProgram() {
	url, hostPort, roots, stop := httpsServer()
	defer stop()
	wasm := buildGuest("./testdata/hostmodule")

	ctx := context.Background()
	// The program's own runtime. wazero.NewRuntime's configuration is
	// runtime.NewFastRuntimeConfig's (no termination checks): the stop
	// flag, below, stops its guests.
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	// The program's own host module, as it was.
	_, err := r.NewHostModuleBuilder("example").NewFunctionBuilder().
		WithFunc(func(_ context.Context, m api.Module, ptr, n uint32) {
			msg, _ := m.Memory().Read(ptr, n)
			fmt.Printf("log: %s\n", strings.ReplaceAll(string(msg), url, "URL"))
		}).Export("log").Instantiate(ctx)
	if err != nil {
		log.Fatal(err)
	}

	// What wasitls adds: the network policy and the wasi:tls host.
	policy := new(sockets.Policy)
	if err := policy.AllowConnect(hostPort); err != nil {
		log.Fatal(err)
	}
	rt, err := runtime.New(ctx, r, runtime.Config{
		StopFlag:   true, // every guest compiled by runtime.CompileModule
		Network:    policy,
		Extensions: []runtime.Extension{tlshost.New(tlshost.Config{RootCAs: roots})},
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
		Args:   []string{"hostmodule", url},
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if err != nil {
		log.Fatalf("%v\n%s", err, stderr.String())
	}
	fmt.Print(stdout.String())
	// Output:
	// log: hello from the guest, fetching URL
	// HTTP/1.1 200 OK
	// hello over TLS
}

// Example_server runs a guest TLS server with the circl-pq backend on the
// one address the policy allows it to listen on: 127.0.0.1, on a port
// the system picks (port 0 in the rule). The identity is the host's,
// parsed from PEM with the backend's ParseIdentity and given to the guest
// by name (tlshost.Config.Identities): the private key never enters the
// guest. The guest (testdata/hostserver) prints the address it listens on,
// which the host reads from its standard output, and answers one
// connection, here a crypto/tls client of the host's. testpki (a
// throwaway CA) and buildGuest are this module's test helpers: a program
// of its own loads the identity from its files (tlshost.LoadIdentity) and
// reads the guest's .wasm file.
func Example_server() {
	ca, err := testpki.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	if err != nil {
		log.Fatal(err)
	}
	keyPEM, chainPEM := leaf.KeyPEM(), leaf.ChainPEM() // what the host holds
	wasm := buildGuest("./testdata/hostserver")

	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	policy := new(sockets.Policy)
	if err := policy.AllowListen("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	id, err := circlpq.ParseIdentity(keyPEM, [][]byte{chainPEM})
	if err != nil {
		log.Fatal(err)
	}
	rt, err := runtime.New(ctx, r, runtime.Config{
		StopFlag: true,
		Network:  policy,
		Extensions: []runtime.Extension{tlshost.New(tlshost.Config{
			BackendName: circlpq.Name,
			Identities:  map[string]*backends.Identity{"web": id},
		})},
	})
	if err != nil {
		log.Fatal(err)
	}
	compiled, err := runtime.CompileModule(ctx, r, wasm)
	if err != nil {
		log.Fatal(err)
	}

	out, stdout := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args:   []string{"hostserver", "127.0.0.1:0", "web", "1"},
			Stdout: stdout,
			Stderr: &stderr,
		})
		stdout.Close()
		done <- err
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		log.Fatalf("the guest did not start: %v\n%s", <-done, stderr.String())
	}
	addr, ok := strings.CutPrefix(lines.Text(), "listening on ")
	if !ok {
		log.Fatalf("the guest printed %q", lines.Text())
	}
	go io.Copy(io.Discard, out)

	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()})
	if err != nil {
		log.Fatal(err)
	}
	answer, err := io.ReadAll(c)
	if err != nil {
		log.Fatal(err)
	}
	st := c.ConnectionState()
	fmt.Printf("%s%s, %v\n", answer, tls.VersionName(st.Version), st.CurveID)
	if err := <-done; err != nil {
		log.Fatalf("%v\n%s", err, stderr.String())
	}
	// Output:
	// hello localhost
	// TLS 1.3, X25519MLKEM768
}

// httpsServer starts an HTTPS server on 127.0.0.1 with a certificate for
// localhost from a throwaway CA, and returns its URL and HOST:PORT by
// that name, and the CA.
func httpsServer() (url, hostPort string, roots *x509.CertPool, stop func()) {
	ca, err := testpki.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over TLS\n")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}}
	srv.StartTLS()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	hostPort = "localhost:" + port
	return "https://" + hostPort + "/", hostPort, ca.Pool(), srv.Close
}

// buildGuest builds the Go package at pkg for GOOS=wasip1 GOARCH=wasm.
func buildGuest(pkg string) []byte {
	wasm, err := guestbuild.Build(pkg)
	if err != nil {
		log.Fatal(err)
	}
	return wasm
}
