package errtext

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
)

func TestCut(t *testing.T) {
	if s := strings.Repeat("a", Max); Cut(s) != s {
		t.Errorf("a message of %d bytes was cut", Max)
	}
	// A character of three bytes across the cut is left out whole.
	s := strings.Repeat("a", Max-1) + strings.Repeat("€", 100)
	got := Cut(s)
	want := strings.Repeat("a", Max-1) + fmt.Sprintf("... (%d bytes more)", 300)
	if got != want {
		t.Errorf("Cut: %q..., want %q...", got[Max-8:], want[Max-8:])
	}
}

func TestBound(t *testing.T) {
	short := fmt.Errorf("read: %w", io.EOF)
	if Bound(short) != short {
		t.Error("a short error was replaced")
	}
	long := fmt.Errorf("tls: %s: %w", strings.Repeat("\\x01", 100<<10), errors.Join(io.EOF, fmt.Errorf("%s: %w", strings.Repeat("b", Max), syscall.ECONNRESET)))
	err := Bound(long)
	if n := len(err.Error()); n > Max+32 {
		t.Errorf("a bound message of %d bytes, want at most %d and the count of the rest", n, Max)
	}
	if !strings.HasPrefix(err.Error(), "tls: \\x01") || !strings.Contains(err.Error(), "bytes more)") {
		t.Errorf("%.40q...: want the message's start and how much was cut", err.Error())
	}
	if !errors.Is(err, io.EOF) || !errors.Is(err, syscall.ECONNRESET) {
		t.Error("the short errors the long one wraps are no longer seen by errors.Is")
	}
	// Bound again, as a stream's kept error is when it is reported, or
	// returned by a backend around an error of the same message: cut once.
	if again := Bound(err); again != err {
		t.Errorf("a bound error was cut again: %.40q...", again.Error()[Max-8:])
	}
	if wrapped := (sameMessage{err}); Bound(wrapped) != error(wrapped) {
		t.Error("an error whose message is a bound one's was cut again")
	}
	if d := Detach(long, nil); Bound(d) != d || errors.Is(d, io.EOF) {
		t.Error("a detached error was cut again, or wraps what it was not given")
	}
	if Bound(nil) != nil {
		t.Error("Bound(nil) is not nil")
	}
}

// sameMessage wraps an error keeping its message, as circl-pq's
// AlertError does its reason.
type sameMessage struct{ err error }

func (e sameMessage) Error() string { return e.err.Error() }
func (e sameMessage) Unwrap() error { return e.err }
