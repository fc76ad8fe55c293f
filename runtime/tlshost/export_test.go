package tlshost

import (
	"testing"
	"time"
)

// NodePeer is nodePeer for the guest-level tests of package tlshost_test.
func NodePeer(t *testing.T) string { return nodePeer(t) }

// CloseGrace is closeGrace, the bound within which a deferred half-close
// is made (see guard.CloseWrite).
const CloseGrace = closeGrace

// SetCloseFlushTimeout sets closeFlushTimeout, the bound of close-output's
// flush, for the rest of t.
func SetCloseFlushTimeout(t *testing.T, d time.Duration) {
	old := closeFlushTimeout
	closeFlushTimeout = d
	t.Cleanup(func() { closeFlushTimeout = old })
}
