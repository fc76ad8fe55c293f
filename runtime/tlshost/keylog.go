package tlshost

import (
	"io"
	"sync"
)

// A lockedWriter serialises the writes of every connection to one key log
// (Config.KeyLog), so that lines of concurrent handshakes never interleave
// whatever the writer. A key log is a debugging aid: a write that fails
// (the file removed, the disk full) is logged, the first of a run of
// failures once, and never fails the handshake that wrote it. crypto/tls
// fails the handshake on a key log error; circl-pq never looked at it.
type lockedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	warn    func(error)
	failing bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(p)
	if err != nil && !l.failing {
		l.warn(err)
	}
	l.failing = err != nil
	return len(p), nil
}
