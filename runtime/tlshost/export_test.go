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

// SlackGraces lengthens by d, until t ends, the graces past which the
// host goes on without a backend that has not returned (graceSlack): a
// hang guard for tests that check it never has to, on a loaded machine.
func SlackGraces(t *testing.T, d time.Duration) {
	graceSlack.Store(int64(d))
	t.Cleanup(func() { graceSlack.Store(0) })
}
