package tlshost

import "testing"

// NodePeer is nodePeer for the guest-level tests of package tlshost_test.
func NodePeer(t *testing.T) string { return nodePeer(t) }
