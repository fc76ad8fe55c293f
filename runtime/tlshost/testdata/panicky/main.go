//go:build wasip1

// Command panicky is a test guest for a backend that panics: it runs
// ROUNDS connections one after the other, each the whole life of a
// connection, and prints for each "round I: ok REPLY" or "round I: STEP:
// ERROR", so that a failure of one round shows in the next.
//
//	panicky client ADDR ROUNDS
//
// connects to ADDR (server name "localhost"), completes the handshake,
// looks at the connection's state, exports keying material, writes "ping",
// reads the echoed line, sends close_notify, reads until the server's end
// and closes. A round that fails once connected prints what the
// connection still reports: "after round I: version=V suite=S alpn=A
// peer=N".
//
//	panicky server ROUNDS
//
// parses the identity in /certs/localhost.key and .pem (once more if that
// fails, printing "identity: ERROR"), listens on a free loopback port, prints "listening on 127.0.0.1:PORT",
// and for each round accepts a connection, completes the handshake, reads
// a line, asks the client for a certificate after the handshake when the
// line is "auth" (printing "round I: auth: RESULT"), writes "pong LINE",
// sends close_notify and closes.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	switch {
	case len(os.Args) == 4 && os.Args[1] == "client":
		rounds, _ := strconv.Atoi(os.Args[3])
		for i := range rounds {
			msg, err := client(i, os.Args[2])
			report(i, msg, err)
		}
	case len(os.Args) == 3 && os.Args[1] == "server":
		rounds, _ := strconv.Atoi(os.Args[2])
		id, err := identity()
		if err != nil {
			// Once more: a failed parse breaks nothing.
			fmt.Println("identity:", err)
			id, err = identity()
		}
		if err != nil {
			fmt.Println("identity:", err)
			os.Exit(1)
		}
		l, err := wasitls.Listen("tcp", "127.0.0.1:0", &wasitls.Config{Identities: []*wasitls.Identity{id}})
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening on", l.Addr())
		for i := range rounds {
			msg, err := server(l, i)
			report(i, msg, err)
		}
	default:
		fmt.Println("usage: panicky client ADDR ROUNDS | panicky server ROUNDS")
		os.Exit(2)
	}
	fmt.Println("done")
}

func identity() (*wasitls.Identity, error) {
	key, err := os.ReadFile("/certs/localhost.key")
	if err != nil {
		return nil, err
	}
	chain, err := os.ReadFile("/certs/localhost.pem")
	if err != nil {
		return nil, err
	}
	return wasitls.ParseIdentity(key, chain)
}

func report(i int, msg string, err error) {
	if err != nil {
		fmt.Printf("round %d: %s: %v\n", i, msg, err)
		return
	}
	fmt.Printf("round %d: ok %s\n", i, msg)
}

func client(i int, addr string) (msg string, err error) {
	c, err := wasitls.Dial("tcp", addr, &wasitls.Config{ServerName: "localhost"})
	if err != nil {
		return "dial", err
	}
	defer c.Close()
	defer func() {
		if err != nil {
			// What the connection still reports once it failed.
			st := c.ConnectionState()
			fmt.Printf("after round %d: version=%#04x suite=%#04x alpn=%q peer=%d\n",
				i, st.Version, st.CipherSuite, st.NegotiatedProtocol, len(st.RawPeerCertificates))
		}
	}()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if st := c.ConnectionState(); !st.HandshakeComplete {
		return "state", fmt.Errorf("handshake not complete: %+v", st)
	}
	if _, err := c.ExportKeyingMaterial("EXPORTER-test", nil, 32); err != nil {
		return "export", err
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "write", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "read", err
	}
	if err := c.CloseWrite(); err != nil {
		return "close-write", err
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		return "read to the end", err
	}
	if err := c.Close(); err != nil {
		return "close", err
	}
	return strings.TrimSpace(line), nil
}

func server(l net.Listener, i int) (string, error) {
	raw, err := l.Accept()
	if err != nil {
		return "accept", err
	}
	c := raw.(*wasitls.Conn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Handshake(); err != nil {
		return "handshake", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "read", err
	}
	line = strings.TrimSpace(line)
	if line == "auth" {
		chain, err := c.RequestClientCertificate(context.Background())
		fmt.Printf("round %d: auth: %d certificates, %v\n", i, len(chain), err)
	}
	if _, err := io.WriteString(c, "pong "+line+"\n"); err != nil {
		return "write", err
	}
	if err := c.CloseWrite(); err != nil {
		return "close-write", err
	}
	if err := c.Close(); err != nil {
		return "close", err
	}
	return line, nil
}
