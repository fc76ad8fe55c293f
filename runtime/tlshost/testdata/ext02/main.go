//go:build wasip1

// Command ext02 drives what wasitls:tls/extensions@0.2.0 adds, through the
// guest/tls API:
//
//	ext02 algorithms                        what the host allows and uses by default
//	ext02 parse KEY-FILE CERT-FILE          a private identity, and why it did not parse
//	ext02 hello KEY-FILE CERT-FILE          a server printing the client's offer (one connection)
//	ext02 request HOST PORT KEY-FILE CERT-FILE
//	                                        a client printing the server's certificate request
//	ext02 say HOST PORT MESSAGE             a client sending MESSAGE
//	ext02 export-client HOST PORT LABEL CONTEXT LENGTH
//	ext02 export-server KEY-FILE CERT-FILE LABEL CONTEXT LENGTH
//	                                        keying material exported after the handshake;
//	                                        CONTEXT is hex, "none" or "empty"
//
// KEY-FILE "host:NAME" takes the identity the host holds under NAME.
package main

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	switch os.Args[1] {
	case "algorithms":
		a, d := wasitls.AllowedAlgorithms(), wasitls.DefaultAlgorithms()
		fmt.Printf("allowed versions=%#04x suites=%#04x groups=%#04x\n", a.Versions, a.CipherSuites, a.Groups)
		fmt.Printf("default versions=%#04x suites=%#04x groups=%#04x\n", d.Versions, d.CipherSuites, d.Groups)
	case "parse":
		id, err := identity(os.Args[2], os.Args[3])
		if err != nil {
			fmt.Println("parse: error:", err)
			return
		}
		fmt.Printf("parse: ok, %d certificates\n", len(id.Chain()))
	case "hello":
		hello(os.Args[2], os.Args[3])
	case "request":
		request(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case "say":
		c, err := wasitls.Dial("tcp", net.JoinHostPort(os.Args[2], os.Args[3]), &wasitls.Config{})
		if err != nil {
			fail("%v", err)
		}
		io.WriteString(c, os.Args[4])
		c.CloseWrite()
		io.ReadAll(c)
		c.Close()
		fmt.Println("said it")
	case "export-client":
		c, err := wasitls.Dial("tcp", net.JoinHostPort(os.Args[2], os.Args[3]), &wasitls.Config{})
		if err != nil {
			fail("%v", err)
		}
		export(c, os.Args[4:])
		c.CloseWrite()
		io.ReadAll(c)
		c.Close()
	case "export-server":
		id, err := identity(os.Args[2], os.Args[3])
		if err != nil {
			fail("%v", err)
		}
		ln, err := wasitls.Listen("tcp", "127.0.0.1:0", &wasitls.Config{Identities: []*wasitls.Identity{id}})
		if err != nil {
			fail("%v", err)
		}
		fmt.Println("listening on", ln.Addr())
		nc, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		c := nc.(*wasitls.Conn)
		if err := c.Handshake(); err != nil {
			fail("handshake: %v", err)
		}
		export(c, os.Args[4:])
		fmt.Fprintln(c, "bye")
		c.Close()
	default:
		fail("unknown mode %q", os.Args[1])
	}
}

// identity parses KEY-FILE and CERT-FILE, or takes the host's identity
// NAME when KEY-FILE is "host:NAME" (CERT-FILE is then ignored).
func identity(keyFile, certFile string) (*wasitls.Identity, error) {
	if name, ok := strings.CutPrefix(keyFile, "host:"); ok {
		return wasitls.HostIdentity(name)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		fail("%v", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		fail("%v", err)
	}
	return wasitls.ParseIdentity(key, cert)
}

func hello(keyFile, certFile string) {
	id, err := identity(keyFile, certFile)
	if err != nil {
		fail("%v", err)
	}
	cfg := &wasitls.Config{
		Identities: []*wasitls.Identity{id},
		GetConfigForClient: func(h *wasitls.ClientHelloInfo) (*wasitls.Config, error) {
			fmt.Printf("hello versions=%#04x groups=%#04x schemes=%#04x\n", h.SupportedVersions, h.SupportedCurves, h.SignatureSchemes)
			return nil, nil
		},
	}
	ln, err := wasitls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fail("%v", err)
	}
	fmt.Println("listening on", ln.Addr())
	c, err := ln.Accept()
	if err != nil {
		fail("accept: %v", err)
	}
	defer c.Close()
	if err := c.(*wasitls.Conn).Handshake(); err != nil {
		fmt.Println("handshake failed:", err)
		return
	}
	fmt.Fprintln(c, "hello")
}

func request(host, port, keyFile, certFile string) {
	id, err := identity(keyFile, certFile)
	if err != nil {
		fail("%v", err)
	}
	cfg := &wasitls.Config{
		GetClientCertificate: func(r *wasitls.CertificateRequestInfo) ([]*wasitls.Identity, error) {
			var cas []string
			for _, der := range r.AcceptableCAs {
				var rdn pkix.RDNSequence
				if _, err := asn1.Unmarshal(der, &rdn); err != nil {
					return nil, err
				}
				var n pkix.Name
				n.FillFromRDNSequence(&rdn)
				cas = append(cas, n.CommonName)
			}
			fmt.Printf("request cas=[%s] schemes=%#04x\n", strings.Join(cas, ","), r.SignatureSchemes)
			return []*wasitls.Identity{id}, nil
		},
	}
	c, err := wasitls.Dial("tcp", net.JoinHostPort(host, port), cfg)
	if err != nil {
		fail("%v", err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	fmt.Printf("server said %q\n", b)
}

// export prints the keying material for LABEL CONTEXT LENGTH.
func export(c *wasitls.Conn, args []string) {
	var context []byte
	switch args[1] {
	case "none":
	case "empty":
		context = []byte{}
	default:
		var err error
		if context, err = hex.DecodeString(args[1]); err != nil {
			fail("context: %v", err)
		}
	}
	n, _ := strconv.Atoi(args[2])
	b, err := c.ExportKeyingMaterial(args[0], context, n)
	if err != nil {
		fmt.Println("export: error:", err)
		return
	}
	fmt.Printf("exported %x\n", b)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ext02: "+format+"\n", args...)
	os.Exit(1)
}
