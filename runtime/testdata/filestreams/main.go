// Command filestreams opens /rw/big and makes up to N streams over it
// (argument 1), read-via-stream ones reading a byte each (which starts
// the host's reader), then write-via-stream and append-via-stream ones
// writing a byte each, keeping them all. It prints how many of each it
// got and the error code that stopped it, then "holding", and waits for
// its standard input to end before it drops them.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	var rw uint32
	for _, p := range w.Preopens() {
		if p.Path == "/rw" {
			rw = p.FD
		}
	}
	fd, c := w.OpenAt(rw, 0, "big", 0, w.FlagRead|w.FlagWrite)
	if c >= 0 {
		fmt.Println("open:", codes[c])
		return
	}
	var ins, outs []uint32
	report := func(what string, got, c int) {
		stop := "none"
		if c >= 0 {
			stop = codes[c]
		}
		fmt.Printf("%s: %d, then %s\n", what, got, stop)
	}
	c = -1
	for len(ins) < n {
		in, code := w.ReadStream(fd, 0)
		if c = code; c >= 0 {
			break
		}
		if _, err := w.BlockingRead(in, 1); err != nil {
			fmt.Println("read:", err)
			return
		}
		ins = append(ins, in)
	}
	report("read-via-stream", len(ins), c)
	for _, append_ := range []bool{false, true} {
		got := 0
		c = -1
		for got < n {
			var out uint32
			var code int
			if append_ {
				out, code = w.AppendStream(fd)
			} else {
				out, code = w.WriteStream(fd, 0)
			}
			if c = code; c >= 0 {
				break
			}
			if err := w.BlockingWriteAndFlush(out, []byte("x")); err != nil {
				fmt.Println("write:", err)
				return
			}
			outs = append(outs, out)
			got++
		}
		report(map[bool]string{false: "write-via-stream", true: "append-via-stream"}[append_], got, c)
	}
	fmt.Println("holding")
	io.Copy(io.Discard, os.Stdin)
	for _, in := range ins {
		w.DropInput(in)
	}
	for _, out := range outs {
		w.DropOutput(out)
	}
	w.DropDescriptor(fd)
	fmt.Println("dropped")
}

// codes are the error-code cases of wasi:filesystem/types, in WIT order.
var codes = strings.Fields(`access would-block already bad-descriptor busy deadlock quota exist
file-too-large illegal-byte-sequence in-progress interrupted invalid io is-directory loop
too-many-links message-size name-too-long no-device no-entry no-lock insufficient-memory
insufficient-space not-directory not-empty not-recoverable unsupported no-tty no-such-device
overflow not-permitted pipe read-only invalid-seek text-file-busy cross-device`)
