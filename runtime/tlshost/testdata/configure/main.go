//go:build wasip1

// Command configure drives every configure function of
// wasitls:tls/extensions against a real peer and prints what the host
// answered and what was negotiated:
//
//	configure client HOST PORT SETTING...
//	configure server KEY-FILE CERT-FILE SETTING...
//
// A SETTING is versions=V,V, suites=S,S, groups=G,G or shares=N (client),
// each value a 0x code point. A server configures at accept, or after
// receive-client-hello when "at-hello" is among the settings; it listens
// on a free port, prints "listening on ADDR" and serves one connection.
//
// Each configure call prints "configure-SIDE-KIND: ok" or
// "configure-SIDE-KIND: error: MESSAGE"; a refused setting is ignored, as a
// careless guest would, so that the test sees what the host then does. The
// last line is "negotiated version=0x.. suite=0x.. group=0x.." or
// "handshake failed: REASON".
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

type settings struct {
	versions, suites, groups []uint16
	shares                   uint8
	atHello                  bool
}

func parse(args []string) settings {
	var s settings
	s.shares = 1
	for _, a := range args {
		if a == "at-hello" {
			s.atHello = true
			continue
		}
		k, v, _ := strings.Cut(a, "=")
		var list []uint16
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(f, 0, 16)
			if err != nil {
				fail("setting %q: %v", a, err)
			}
			list = append(list, uint16(n))
		}
		switch k {
		case "versions":
			s.versions = list
		case "suites":
			s.suites = list
		case "groups":
			s.groups = list
		case "shares":
			s.shares = uint8(list[0])
		default:
			fail("unknown setting %q", a)
		}
	}
	return s
}

func report(what string, err error) {
	if err != nil {
		fmt.Printf("%s: error: %v\n", what, err)
		return
	}
	fmt.Printf("%s: ok\n", what)
}

func main() {
	switch os.Args[1] {
	case "client":
		client(os.Args[2], os.Args[3], parse(os.Args[4:]))
	case "server":
		server(os.Args[2], os.Args[3], parse(os.Args[4:]))
	default:
		fail("usage: configure client HOST PORT SETTING... | configure server KEY CERT SETTING...")
	}
}

func client(host, portArg string, s settings) {
	port, _ := strconv.ParseUint(portArg, 10, 16)
	sock, in, out, err := wasinet.Dial(host, uint16(port))
	if err != nil {
		fail("dial: %v", err)
	}
	defer sock.Drop()
	conn := tls.NewClientConnection(in, out)
	defer conn.Drop()
	hs, err := conn.Connect(host)
	if err != nil {
		fail("connect: %v", err)
	}
	if s.versions != nil {
		report("configure-client-protocol-versions", tlsext.ConfigureClientProtocolVersions(hs, s.versions))
	}
	if s.suites != nil {
		report("configure-client-cipher-suites", tlsext.ConfigureClientCipherSuites(hs, s.suites))
	}
	if s.groups != nil {
		report("configure-client-groups", tlsext.ConfigureClientGroups(hs, s.groups, s.shares))
	}
	f := tls.ClientHandshakeFinish(hs)
	wasinet.Await(f.Subscribe())
	cin, cout, _, err := f.Get()
	f.Drop()
	if err != nil {
		msg, _ := tlsext.ClientLastError(conn)
		fmt.Printf("handshake failed: %s\n", msg)
		return
	}
	v, _ := conn.ProtocolVersion()
	cs, _ := conn.CipherSuite()
	g, _ := tlsext.ClientNegotiatedGroup(conn)
	fmt.Printf("negotiated version=0x%04x suite=0x%04x group=0x%04x\n", v, cs, g)
	tlsext.CloseClientOutput(conn)
	wasinet.ReadAll(cin)
	cin.Drop()
	cout.Drop()
}

func server(keyFile, certFile string, s settings) {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		fail("%v", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		fail("%v", err)
	}
	id, err := tls.ParsePrivateIdentity(key, [][]byte{cert})
	if err != nil {
		fail("the host could not parse the identity")
	}
	ln, bound, err := wasinet.Listen("127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("listening on %s\n", bound)
	sock, in, out, err := wasinet.Accept(ln)
	if err != nil {
		fail("accept: %v", err)
	}
	defer sock.Drop()
	conn := tls.NewServerConnection(in, out)
	defer conn.Drop()
	hs, err := conn.Accept()
	if err != nil {
		fail("accept: %v", err)
	}
	if err := hs.ConfigureServerIdentities([]tls.PrivateIdentity{id}); err != nil {
		fail("configure-server-identities: %v", err)
	}
	if s.atHello {
		f, err := hs.ReceiveClientHello()
		if err != nil {
			fail("receive-client-hello: %v", err)
		}
		wasinet.Await(f.Subscribe())
		hello, _, err := f.Get()
		f.Drop()
		if err != nil {
			msg, _ := tlsext.ServerLastError(conn)
			fmt.Printf("handshake failed: %s\n", msg)
			return
		}
		hello.Drop()
		fmt.Println("client hello received")
	}
	if s.versions != nil {
		report("configure-server-protocol-versions", tlsext.ConfigureServerProtocolVersions(hs, s.versions))
	}
	if s.suites != nil {
		report("configure-server-cipher-suites", tlsext.ConfigureServerCipherSuites(hs, s.suites))
	}
	if s.groups != nil {
		report("configure-server-groups", tlsext.ConfigureServerGroups(hs, s.groups))
	}
	f := tls.ServerHandshakeFinish(hs)
	wasinet.Await(f.Subscribe())
	cin, cout, _, err := f.Get()
	f.Drop()
	if err != nil {
		msg, _ := tlsext.ServerLastError(conn)
		fmt.Printf("handshake failed: %s\n", msg)
		return
	}
	v, _ := conn.ProtocolVersion()
	cs, _ := conn.CipherSuite()
	g, _ := tlsext.ServerNegotiatedGroup(conn)
	fmt.Printf("negotiated version=0x%04x suite=0x%04x group=0x%04x\n", v, cs, g)
	tlsext.CloseServerOutput(conn)
	wasinet.ReadAll(cin)
	cin.Drop()
	cout.Drop()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "configure: "+format+"\n", args...)
	os.Exit(1)
}
