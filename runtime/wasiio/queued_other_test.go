//go:build unix && !linux

package wasiio

import (
	"net"
	"testing"
	"time"
)

// awaitQueued waits for n bytes to reach c's socket. Off Linux the test
// knows no portable way to see them queued, and waits a while.
func awaitQueued(t *testing.T, c *net.TCPConn, n int) {
	time.Sleep(100 * time.Millisecond)
}
