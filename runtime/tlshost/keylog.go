package tlshost

import (
	"io"
	"sync"
)

// A lockedWriter serialises the writes of every connection to one key log
// (Config.KeyLog), so that lines of concurrent handshakes never interleave
// whatever the writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
