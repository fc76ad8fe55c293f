//go:build wasip1

package wasinet_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
)

// A client: dial (the host's network policy must allow the address), write,
// half-close, read the answer, with a deadline on the whole exchange.
func ExampleDial() {
	c, err := wasinet.Dial("tcp", "127.0.0.1:7000")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		log.Fatal(err)
	}
	c.(*wasinet.Conn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", reply)
}

// A line echo server: one goroutine per connection; they all wait on the
// guest's single poller, so thousands of connections are fine.
func ExampleListen() {
	ln, err := wasinet.Listen("tcp", "127.0.0.1:8000")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			s := bufio.NewScanner(c)
			for s.Scan() {
				fmt.Fprintf(c, "%s\n", s.Text())
			}
		}()
	}
}
