//go:build wasip1

// Command httpidle is a test guest for the idle connections of package
// guest/http's Transport:
//
//	httpidle URL CTRL TIMEOUT
//	    GETs URL with a Transport whose IdleConnTimeout is TIMEOUT (a
//	    time.ParseDuration string), reads the body and prints the
//	    response's protocol; then connects to CTRL and prints "ctrl LINE"
//	    for the line CTRL answers (the test says there whether the server
//	    saw the idle connection closed).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	wasihttp "github.com/wasitls/wasitls/guest/http"
	wasinet "github.com/wasitls/wasitls/guest/net"
)

func main() {
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
}

func run(url, ctrl, timeout string) error {
	idle, err := time.ParseDuration(timeout)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &wasihttp.Transport{IdleConnTimeout: idle}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Println(resp.Proto)
	c, err := wasinet.Dial("tcp", ctrl)
	if err != nil {
		return err
	}
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	fmt.Printf("ctrl %s", line)
	return nil
}
