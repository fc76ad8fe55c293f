//go:build wasip1

// Command server-minimal is the design text's minimal server: parse a
// private key and certificate chain read from files (the host preopens
// their directory), accept TCP connections, run the TLS handshake with that
// identity, print each request and answer it.
//
//	server-minimal [HOST:]PORT KEY-FILE CERT-FILE [CONNECTIONS [REQUEST-TIMEOUT]]
//
// HOST defaults to 127.0.0.1; the design text binds every interface, which
// is 0.0.0.0:443 here. PORT 0 picks a free port; the first line printed is
// "listening on ADDR". CONNECTIONS (default: no limit) is how many
// connections to serve.
//
// Like the design text's loop, it serves one connection at a time, so a
// client that stalls holds up the others. The host bounds a stalled
// handshake (wasitls run --handshake-timeout); the example bounds the wait
// for the request by REQUEST-TIMEOUT (default 30s), as a server's header
// timeout does. Serve many clients at once with goroutines, as guest/tls's
// ExampleListen does.
//
// Build and run:
//
//	GOOS=wasip1 GOARCH=wasm go build -o bin/server-minimal.wasm ./examples/server-minimal
//	wasitls run --allow-listen 127.0.0.1:8443 --dir bin/certs:/certs:ro \
//	    bin/server-minimal.wasm 8443 /certs/server.key /certs/server.pem
//
// The key and certificate are read through the directory the host
// preopens (--dir); a path outside every preopen fails to open with
// EBADF ("Bad file number"), which the error then explains. README.md ("Run your own guest") makes a
// throwaway certificate and runs client-minimal against it.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/examples/wasinet"
	wio "github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: server-minimal [HOST:]PORT KEY-FILE CERT-FILE [CONNECTIONS [REQUEST-TIMEOUT]]")
		os.Exit(2)
	}
	limit := -1
	var err error
	if len(os.Args) > 4 {
		if limit, err = strconv.Atoi(os.Args[4]); err != nil {
			fail("connections: %v", err)
		}
	}
	requestTimeout := 30 * time.Second
	if len(os.Args) > 5 {
		if requestTimeout, err = time.ParseDuration(os.Args[5]); err != nil {
			fail("request timeout: %v", err)
		}
	}

	// Prepare certificates + private key. The key goes to the host, which
	// keeps it: the guest only holds a handle.
	key, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v%s", err, preopenHint(err))
	}
	cert, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("%v%s", err, preopenHint(err))
	}
	id, err := tls.ParsePrivateIdentity(key, [][]byte{cert})
	if err != nil {
		fail("the host could not parse %s and %s", os.Args[2], os.Args[3])
	}
	clear(key)

	// TCP setup.
	ln, bound, err := wasinet.Listen(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("listening on %v\n", bound)

	for served := 0; limit < 0 || served < limit; served++ {
		sock, tcpIn, tcpOut, err := wasinet.Accept(ln)
		if err != nil {
			fail("accept: %v", err)
		}
		if err := serve(id, tcpIn, tcpOut, requestTimeout); err != nil {
			fmt.Fprintf(os.Stderr, "server-minimal: %v\n", err)
		}
		sock.Drop()
	}
}

// serve runs one TLS connection: handshake, print the request, answer.
func serve(id tls.PrivateIdentity, tcpIn wio.InputStream, tcpOut wio.OutputStream, requestTimeout time.Duration) error {
	conn := tls.NewServerConnection(tcpIn, tcpOut)
	defer conn.Drop()
	handshake, err := conn.Accept()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	if err := handshake.ConfigureServerIdentities([]tls.PrivateIdentity{id}); err != nil {
		tls.ServerHandshakeAbort(handshake).Drop()
		return fmt.Errorf("configure-server-identities: %w", err)
	}
	future := tls.ServerHandshakeFinish(handshake)
	wasinet.Await(future.Subscribe())
	in, out, _, err := future.Get()
	future.Drop()
	if err != nil {
		// The reason, for instance the host's handshake timeout.
		reason, _ := tlsext.ServerLastError(conn)
		return fmt.Errorf("tls handshake failed: %s", reason)
	}
	defer in.Drop()
	defer out.Drop() // dropping the cleartext output sends close_notify

	req, err := wasinet.ReadSomeWithin(in, requestTimeout)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	fmt.Printf("request: %q\n", firstLine(req))
	const body = "hello from a wasi:tls server\n"
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return out.BlockingWriteAndFlush([]byte(resp))
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// preopenHint explains EBADF, what wasip1 returns for a path beneath no
// preopened directory.
func preopenHint(err error) string {
	if errors.Is(err, syscall.EBADF) {
		return " (no preopened directory holds it: the host gives one with wasitls run --dir HOST:GUEST)"
	}
	return ""
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "server-minimal: "+format+"\n", args...)
	os.Exit(1)
}
