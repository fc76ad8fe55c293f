package wasiio

import "testing"

// TestDroppedPermitReturned: a cleartext output stream over a socket's
// transport (the TLS host's inline output stream: its backlog is the
// socket's send queue, under the guest's budget) is dropped holding the
// permit check-write granted, nothing written. The permit's reservation
// goes back to the guest's budget with the drop, while the transport
// lives on (the connection, for its input stream). Before, it stayed
// counted until the transport closed: a guest could hold its whole budget
// with permits of streams it had dropped.
func TestDroppedPermitReturned(t *testing.T) {
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	a, _ := silentPair(t)
	b := NewUnsentBudget(DefaultUnsentBytes, nil)
	in, out, _ := SocketStreamsBudget(a, nil, a.Close, 0, b)
	tc, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for _, written := range []int{0, 100} {
		s := NewInlineOutputStream(tc, tc.(NonblockingTransport).Backlog(), nil)
		n, err := s.CheckWrite(bg)
		if err != nil || n != WriteBudget {
			t.Fatalf("check-write: %d, %v; want %d", n, err, WriteBudget)
		}
		if b.Used() == 0 {
			t.Fatal("the permit reserved nothing of the budget")
		}
		if written > 0 {
			if err := s.Write(bg, make([]byte, written)); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if used := b.Used(); used != 0 {
			t.Errorf("%d bytes written of the permit: the dropped stream's permit keeps %d bytes of the budget", written, used)
		}
	}
}
