package tlshost

import "testing"

// NodePeer is nodePeer for the guest-level tests of package tlshost_test.
func NodePeer(t *testing.T) string { return nodePeer(t) }

// CloseGrace is closeGrace, the bound within which a deferred half-close
// is made (see guard.CloseWrite).
const CloseGrace = closeGrace
