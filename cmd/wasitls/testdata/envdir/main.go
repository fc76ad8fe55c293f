// Command envdir prints an environment variable, its arguments and a file
// from a preopened directory, as "wasitls run" passes them.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("GREETING=%s\n", os.Getenv("GREETING"))
	fmt.Printf("args=%q\n", os.Args[1:])
	b, err := os.ReadFile("/data/file.txt")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	fmt.Printf("file=%s\n", b)
	if err := os.WriteFile("/data/new.txt", []byte("x"), 0o644); err != nil {
		fmt.Println("write refused")
	}
}
