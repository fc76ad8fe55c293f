//go:build wasip1

package wasitls_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
	wasitls "github.com/wasitls/wasitls/guest/tls"
)

// The design text's minimal client: the host validates the server's
// certificate against its roots.
func ExampleDial() {
	c, err := wasitls.Dial("tcp", "example.com:443", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")
	io.Copy(os.Stdout, c)
}

// A client with ALPN, an extra check of the server's certificate, and a
// client certificate offered when the server asks.
func ExampleConfig_client() {
	key, _ := os.ReadFile("/certs/client.key")
	chain, _ := os.ReadFile("/certs/client.pem")
	id, err := wasitls.ParseIdentity(key, chain)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &wasitls.Config{
		NextProtos: []string{"h2", "http/1.1"},
		Identities: []*wasitls.Identity{id},
		VerifyPeerCertificate: func(raw [][]byte) error {
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if leaf.Subject.Organization == nil {
				return errors.New("no organization")
			}
			return nil
		},
	}
	c, err := wasitls.Dial("tcp", "example.com:443", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	fmt.Printf("%#x %#x group %#x alpn %q\n", st.Version, st.CipherSuite, st.CurveID, st.NegotiatedProtocol)
}

// A server choosing its identity from the ClientHello and asking for a
// client certificate.
func ExampleListen() {
	key, _ := os.ReadFile("/certs/server.key")
	chain, _ := os.ReadFile("/certs/server.pem")
	id, err := wasitls.ParseIdentity(key, chain)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &wasitls.Config{
		GetConfigForClient: func(hello *wasitls.ClientHelloInfo) (*wasitls.Config, error) {
			return &wasitls.Config{
				Identities: []*wasitls.Identity{id},
				NextProtos: []string{"h2", "http/1.1"},
				ClientAuth: wasitls.RequestClientCert,
			}, nil
		},
	}
	ln, err := wasitls.Listen("tcp", "0.0.0.0:8443", cfg)
	if err != nil {
		log.Fatal(err)
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if errors.Is(err, wasinet.ErrTemporary) {
			// At the host's socket limit, for instance: pause and try
			// again, as net/http's Server.Serve does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			log.Printf("accept: %v; retrying in %v", err, delay)
			time.Sleep(delay)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		delay = 0
		go func() {
			defer c.Close()
			tc := c.(*wasitls.Conn)
			if err := tc.Handshake(); err != nil {
				return
			}
			fmt.Fprintf(tc, "hello %s\n", tc.ConnectionState().ServerName)
		}()
	}
}

// The step-by-step client handshake.
func ExampleNewClientHandshake() {
	ctx := context.Background()
	raw, err := wasinet.Dial("tcp", "example.com:443")
	if err != nil {
		log.Fatal(err)
	}
	h, err := wasitls.NewClientHandshake(raw, "example.com")
	if err != nil {
		log.Fatal(err)
	}
	h.ConfigureALPN([]string{"h2"})
	chain, err := h.VerifyServerIdentity(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if len(chain) > 3 {
		h.Abort(ctx)
		return
	}
	c, err := h.Finish(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
