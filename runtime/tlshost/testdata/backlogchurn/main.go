// Command backlogchurn makes TLS client connections to ADDR (server name
// "localhost") one after another, N of them, each read for WAIT (a
// duration) and then closed, to see whether what a peer made the host
// hold on one connection stays counted after it is gone:
//
//	backlogchurn ADDR N WAIT
//
// A read that times out is the expected end of a connection (the peer
// sends no data); the command prints "closed N held" once every
// connection ended so, or "connection I: ERROR" for the first whose
// handshake or read failed, and exits 1.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	wait, err := time.ParseDuration(os.Args[3])
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for i := range n {
		if err := heldRead(os.Args[1], wait); err != nil {
			fmt.Printf("connection %d: %v\n", i, err)
			os.Exit(1)
		}
	}
	fmt.Printf("closed %d held\n", n)
}

// heldRead makes one connection, reads from it until wait passed, and
// closes it; a read that ends other than by the deadline is an error.
func heldRead(addr string, wait time.Duration) error {
	c, err := wasitls.Dial("tcp", addr, &wasitls.Config{ServerName: "localhost"})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("read %d bytes: %v", n, err)
}
