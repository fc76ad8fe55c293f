package testpki_test

import (
	"crypto/tls"
	"fmt"

	"github.com/wasitls/wasitls/internal/testpki"
)

// An in-memory CA issuing a server and a client certificate, used with
// crypto/tls.
func Example() {
	ca, err := testpki.NewCA()
	if err != nil {
		panic(err)
	}
	server, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"demo.test"}})
	if err != nil {
		panic(err)
	}
	client, err := ca.Issue(testpki.LeafOptions{CommonName: "demo client", Usage: testpki.ClientAuth, Key: testpki.Ed25519})
	if err != nil {
		panic(err)
	}
	_ = &tls.Config{
		Certificates: []tls.Certificate{server.TLSCertificate()},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	_ = client.Identity() // a backends.Identity for a wasi:tls backend
	fmt.Println(server.Cert.DNSNames, client.Cert.Subject.CommonName)
	// Output: [demo.test] demo client
}
