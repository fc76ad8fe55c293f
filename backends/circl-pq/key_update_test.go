package circlpq

import (
	"bytes"
	"slices"
	"testing"
)

// TestKeyUpdateRequestedBurst sends several KeyUpdates with
// update_requested in a row: the receiver answers with a single KeyUpdate,
// before its next application data record (RFC 8446, Section 4.6.3).
func TestKeyUpdateRequestedBurst(t *testing.T) {
	c, s, _, _ := established(t)
	before := slices.Clone(s.out.trafficSecret)
	for range 5 {
		if err := c.KeyUpdate(true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := s.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
	s.out.Lock()
	pending, unchanged := s.keyUpdatePending, bytes.Equal(s.out.trafficSecret, before)
	s.out.Unlock()
	if !pending || !unchanged {
		t.Fatalf("after the requests: pending %v, keys unchanged %v; want the answer held for the next Write", pending, unchanged)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil || string(buf) != "pong" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
	if want := s.out.suite.nextTrafficSecret(before); !bytes.Equal(s.out.trafficSecret, want) {
		t.Error("the server did not update its keys exactly once")
	}
	if !bytes.Equal(c.in.trafficSecret, s.out.trafficSecret) {
		t.Error("the client's read keys do not follow the server's update")
	}
	echo(t, c, s)
}
