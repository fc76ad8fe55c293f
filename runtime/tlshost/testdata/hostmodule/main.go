//go:build wasip1

// Command hostmodule is the guest of the package's Example_wazeroProgram:
// a guest of a wazero program that has a host module of its own. It tells
// the host which URL it fetches through that module's log function
// (module "example", not a WASI one), then fetches it with net/http
// through the host's wasi:tls and prints the status line and the body.
//
//	hostmodule URL
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"unsafe"

	wasihttp "github.com/wasitls/wasitls/guest/http"
)

// hostLog is the embedder's own host function.
//
//go:wasmimport example log
func hostLog(ptr unsafe.Pointer, n uint32)

func main() {
	msg := "hello from the guest, fetching " + os.Args[1]
	hostLog(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	client := &http.Client{Transport: &wasihttp.Transport{}}
	resp, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s %s\n%s", resp.Proto, resp.Status, body)
}
