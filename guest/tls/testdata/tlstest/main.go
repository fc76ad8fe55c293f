// Command tlstest exercises package wasitls inside a guest; the host-side
// tests drive it. Identities come from the environment (KEY, CHAIN: PEM).
//
//	client ADDR NAME   dial with ALPN, verification hook and client identity,
//	                   send "ping", CloseWrite, read to EOF, print the state
//	server             listen on 127.0.0.1:0, print the address, serve one
//	                   connection, try post-handshake authentication
//	draft ADDR NAME    the same exchange as client over the draft API
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func identities() ([]*wasitls.Identity, error) {
	key, chain := os.Getenv("KEY"), os.Getenv("CHAIN")
	if key == "" {
		return nil, nil
	}
	id, err := wasitls.ParseIdentity([]byte(key), []byte(chain))
	if err != nil {
		return nil, err
	}
	return []*wasitls.Identity{id}, nil
}

func run(args []string) error {
	ctx := context.Background()
	switch args[0] {
	case "client":
		ids, err := identities()
		if err != nil {
			return err
		}
		verified := 0
		cfg := &wasitls.Config{
			ServerName: args[2],
			NextProtos: []string{"h2", "http/1.1"},
			Identities: ids,
			VerifyPeerCertificate: func(raw [][]byte) error {
				verified = len(raw)
				return nil
			},
		}
		c, err := wasitls.Dial("tcp", args[1], cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, "ping"); err != nil {
			return err
		}
		if err := c.CloseWrite(); err != nil {
			return err
		}
		reply, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		st := c.ConnectionState()
		fmt.Printf("reply %s\n", reply)
		fmt.Printf("version %#x alpn %s sni %s peer %d verified %d local %d group %v suite %v\n",
			st.Version, st.NegotiatedProtocol, st.ServerName, len(st.PeerCertificates), verified,
			len(st.LocalCertificate), st.CurveID != 0, st.CipherSuite != 0)
		return nil

	case "client-reject":
		// The hook's error reaches the caller wrapped, not flattened.
		errRejected := errors.New("pinned key mismatch")
		_, err := wasitls.Dial("tcp", args[1], &wasitls.Config{
			ServerName:            args[2],
			VerifyPeerCertificate: func([][]byte) error { return errRejected },
		})
		fmt.Printf("rejected %v errors.Is %v\n", err, errors.Is(err, errRejected))
		return nil
	case "server":
		ids, err := identities()
		if err != nil {
			return err
		}
		cfg := &wasitls.Config{
			GetConfigForClient: func(hello *wasitls.ClientHelloInfo) (*wasitls.Config, error) {
				fmt.Printf("hello sni %s alpn %s\n", hello.ServerName, strings.Join(hello.SupportedProtos, ","))
				return &wasitls.Config{
					Identities: ids,
					NextProtos: []string{"h2"},
					ClientAuth: wasitls.RequestClientCert,
				}, nil
			},
		}
		ln, err := wasitls.Listen("tcp4", "127.0.0.1:0", cfg)
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println(ln.Addr())
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		c := nc.(*wasitls.Conn)
		defer c.Close()
		if err := c.HandshakeContext(ctx); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		st := c.ConnectionState()
		fmt.Fprintf(c, "hello %s alpn=%s client=%d got=%s", st.ServerName, st.NegotiatedProtocol, len(st.PeerCertificates), line)
		_, err = c.RequestClientCertificate(ctx)
		fmt.Printf("post-handshake: %v\n", err)
		return c.CloseWrite()

	case "draft":
		c, err := wasitls.DialDraft(ctx, "tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		io.WriteString(c, "ping")
		c.CloseWrite()
		reply, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		fmt.Printf("reply %s\n", reply)
		return nil
	}
	return fmt.Errorf("unknown mode %s", args[0])
}
