// Package syncbuf holds Buffer, the byte buffer tests hand to code that
// writes from goroutines of its own (a guest's standard output, a log)
// while the test reads it.
package syncbuf

import (
	"bytes"
	"sync"
)

// A Buffer is a bytes.Buffer whose Write and String may be called from
// any goroutine. Its zero value is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
