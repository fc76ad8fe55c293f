package wasiio

import (
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// awaitQueued waits until c's socket holds at least n bytes received and
// not yet read (TIOCINQ), or fails the test after 10 s, a hang guard.
func awaitQueued(t *testing.T, c *net.TCPConn, n int) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var queued int32
		var errno syscall.Errno
		if err := raw.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&queued)))
		}); err != nil {
			t.Fatal(err)
		}
		if errno != 0 {
			t.Fatalf("TIOCINQ: %v", errno)
		}
		if int(queued) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the socket holds %d bytes 10 s after the peer wrote %d", queued, n)
		}
	}
}
