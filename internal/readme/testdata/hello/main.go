// Command hello is the guest the README's embedding test runs: it prints
// its arguments and exits with status 3, so the test sees that output and
// exit codes pass through the embedding program.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println("hello from the guest:", strings.Join(os.Args[1:], " "))
	fmt.Fprintln(os.Stderr, "a line on stderr")
	os.Exit(3)
}
