// Command readloop reads /d/big from its start N times (argument 1) into
// one buffer of the file's size (argument 2) with ReadAt, which is
// wasi:filesystem's descriptor.read, and prints the bytes it read.
package main

import (
	"fmt"
	"os"
	"strconv"

	wasifs "github.com/wasitls/wasitls/guest/fs"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	size, _ := strconv.Atoi(os.Args[2])
	f, err := wasifs.Preopen("/d").OpenFile("big", os.O_RDONLY, 0)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	buf := make([]byte, size)
	total := 0
	for range n {
		k, err := f.ReadAt(buf, 0)
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		total += k
	}
	fmt.Println(total)
}
