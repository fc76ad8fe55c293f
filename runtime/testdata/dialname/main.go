// Command dialname dials its first argument (HOST:PORT, by name) with the
// guest library, sends its second argument and prints the echo: the path
// through ip-name-lookup and the policy's grants for looked-up names.
package main

import (
	"fmt"
	"io"
	"os"

	guestnet "github.com/wasitls/wasitls/guest/net"
)

func main() {
	c, err := guestnet.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer c.Close()
	msg := os.Args[2]
	if _, err := io.WriteString(c, msg); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(1)
	}
	fmt.Printf("echo: %s\n", buf)
}
