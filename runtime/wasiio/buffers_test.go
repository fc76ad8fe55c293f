package wasiio

import (
	"bytes"
	"testing"
)

// An idle output stream holds no write buffer: thousands of idle
// connections must not pin WriteBudget bytes each.
func TestOutputStreamIdleHoldsNoBuffer(t *testing.T) {
	var w bytes.Buffer
	s := NewOutputStream(&w, nil)
	defer s.Close()
	for _, msg := range []string{"first", "second", "third"} {
		if err := s.BlockingWriteAndFlush(bg, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		held := s.buf != nil
		s.mu.Unlock()
		if held {
			t.Fatalf("after writing %q the idle stream still holds its buffer", msg)
		}
	}
	if w.String() != "firstsecondthird" {
		t.Fatalf("wrote %q", w.String())
	}
}
