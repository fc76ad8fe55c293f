// Command p1race loops through wasi_snapshot_preview1 (the Go standard
// library's os package) over /rw/d, a symbolic link the host keeps
// swapping between a directory inside /rw and one outside it, and prints
// how many of its reads saw the inside file, how many the outside one, and
// how many of its changes succeeded. It goes on past its count, for up to
// a minute, until it has read the inside file and created a file through
// the link once: how the host's swaps and its own loop interleave is up
// to the machine's scheduler, and a starved swapper can leave the link
// pointing outside for all of a short run.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := 2000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var inside, outside, created, removed int
	giveUp := time.Now().Add(time.Minute)
	for i := 0; i < n || (inside == 0 || created == 0) && time.Now().Before(giveUp); i++ {
		switch b, err := os.ReadFile("/rw/d/f"); {
		case err != nil:
		case string(b) == "inside":
			inside++
		default:
			outside++
			fmt.Printf("read %q\n", b)
		}
		if os.WriteFile("/rw/d/new", []byte("new"), 0o644) == nil {
			created++
			os.Remove("/rw/d/new")
		}
		if os.Mkdir("/rw/d/newdir", 0o755) == nil {
			created++
			os.Remove("/rw/d/newdir")
		}
		if os.Remove("/rw/d/victim") == nil {
			removed++
		}
		os.Chmod("/rw/d/f", 0o600)
		os.Rename("/rw/d/f", "/rw/d/f")
	}
	fmt.Printf("inside %v outside %d created %v removed %v\n", inside > 0, outside, created > 0, removed)
}
