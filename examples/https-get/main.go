//go:build wasip1

// Command https-get fetches a URL with net/http through the host's wasi:tls
// and prints the status line, the HTTP protocol, the TLS parameters the
// host negotiated (ALPN, version, cipher suite, key-exchange group) and the
// first line of the body.
//
//	https-get URL
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o bin/https-get.wasm ./examples/https-get
// Run:   wasitls run --allow-connect example.com:443 bin/https-get.wasm https://example.com/
package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"

	wasihttp "github.com/wasitls/wasitls/guest/http"
	"github.com/wasitls/wasitls/tlsnames"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: https-get URL")
		os.Exit(2)
	}
	client := &http.Client{Transport: &wasihttp.Transport{}}
	resp, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "https-get: %v\n", err)
		os.Exit(1)
	}
	defer resp.Body.Close()

	fmt.Printf("%s %s\n", resp.Proto, resp.Status)
	if st := resp.TLS; st != nil {
		alpn := st.NegotiatedProtocol
		if alpn == "" {
			alpn = "none (the server chose no protocol)"
		}
		fmt.Printf("alpn: %s\n", alpn)
		fmt.Printf("tls: %s, %s\n", tlsnames.Describe(tlsnames.Version, st.Version),
			tlsnames.Describe(tlsnames.CipherSuite, st.CipherSuite))
		fmt.Printf("group: %s\n", tlsnames.Describe(tlsnames.Group, uint16(st.CurveID)))
		if len(st.PeerCertificates) > 0 {
			fmt.Printf("server: %s\n", st.PeerCertificates[0].Subject)
		}
	}
	body := bufio.NewScanner(resp.Body)
	if body.Scan() {
		fmt.Printf("body: %s\n", body.Text())
	}
	if err := body.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "https-get: reading the body: %v\n", err)
		os.Exit(1)
	}
}
