// Command stream is a test guest for the cleartext streams: it connects
// with package guest/tls to ADDR (server name "localhost"), writes N bytes
// of a counting pattern in writes of varying size, sends close_notify
// (CloseWrite), then reads until the server's close_notify and prints the
// byte count and SHA-256 of what it read. With SLEEP, it sleeps that many
// milliseconds after close_notify before it reads, calling nothing on the
// connection meanwhile.
//
//	stream ADDR N [SLEEP]
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	sleep := 0
	if len(os.Args) > 3 {
		sleep, _ = strconv.Atoi(os.Args[3])
	}
	if err := run(os.Args[1], os.Args[2], time.Duration(sleep)*time.Millisecond); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func run(addr, count string, sleep time.Duration) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return err
	}
	c, err := wasitls.Dial("tcp", addr, &wasitls.Config{ServerName: "localhost"})
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(i)
	}
	// Sizes cycle through small, odd and larger-than-budget writes; the
	// pattern continues across writes (byte i of the stream is i mod 256).
	sizes := []int{1, 5, 16 << 10, 4093, 65 << 10, 300, 64 << 10, 17}
	for sent, k := 0, 0; sent < n; k++ {
		w := min(sizes[k%len(sizes)], n-sent)
		off := sent % 256
		if _, err := c.Write(buf[off : off+w]); err != nil {
			return fmt.Errorf("write at %d: %w", sent, err)
		}
		sent += w
	}
	if err := c.CloseWrite(); err != nil {
		return fmt.Errorf("close-write: %w", err)
	}
	time.Sleep(sleep)
	h := sha256.New()
	got, err := io.CopyBuffer(h, c, make([]byte, 3000))
	if err != nil {
		return fmt.Errorf("read after %d bytes: %w", got, err)
	}
	fmt.Printf("read %d bytes sha256 %x\n", got, h.Sum(nil))
	return nil
}
