package tlshost

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"time"
)

// A keyLog writes the lines of every connection to one key log
// (Config.KeyLog) on a goroutine of its own, one Write a line, so that
// lines of concurrent handshakes never interleave whatever the writer,
// and a writer that blocks holds up no handshake for long. Before, the
// lines were written under one lock on the handshake's goroutine: a
// writer that blocked (a full pipe, a stalled network file system) held
// every handshake of the host, and the guests' calls waiting on them,
// for as long as it blocked.
//
// A handshake waits for its line while the writer keeps up, up to
// keyLogWait, so that a line is in the log once the handshake that made
// it goes on (a capture decrypts at once; a process that exits loses
// nothing). Once one such wait gives up, no handshake waits until the
// writer has caught up with every line queued. The lines queued, the one
// in the writer's hands included, hold at most Config.KeyLogBytes beyond
// one line; a line past it is dropped, and the first of a run of drops
// logged.
//
// A key log is a debugging aid: a write that fails (the file removed,
// the disk full) is logged, the first of a run of failures once, and
// never fails the handshake that wrote it. crypto/tls fails the
// handshake on a key log error; circl-pq never looked at it.
type keyLog struct {
	w    io.Writer
	warn func(error)
	max  int // bytes queued, beyond one line

	mu       sync.Mutex
	queue    []keyLogLine
	queued   int  // bytes of queue and of the line being written
	writing  bool // the writing goroutine runs
	stalled  bool // a wait gave up: until the queue drains, none waits
	dropping bool // a line was dropped since the queue last drained
	failing  bool // the last write failed
}

type keyLogLine struct {
	b       []byte
	written chan struct{} // closed once written; nil when no one waits
}

// keyLogWait bounds how long a handshake waits for its key log line.
const keyLogWait = 500 * time.Millisecond

// errKeyLogBehind is logged when a line is dropped.
var errKeyLogBehind = errors.New("the key log's writer is behind: lines are dropped until it catches up (tlshost.Config.KeyLogBytes, wasitls run --max-keylog-bytes)")

func (l *keyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.queued > 0 && l.queued+len(p) > l.max {
		warn := !l.dropping
		l.dropping = true
		l.mu.Unlock()
		if warn {
			l.warn(errKeyLogBehind)
		}
		return len(p), nil
	}
	line := keyLogLine{b: bytes.Clone(p)}
	if !l.stalled {
		line.written = make(chan struct{})
	}
	l.queue = append(l.queue, line)
	l.queued += len(p)
	if !l.writing {
		l.writing = true
		go l.run()
	}
	l.mu.Unlock()
	if line.written != nil {
		t := time.NewTimer(keyLogWait)
		defer t.Stop()
		select {
		case <-line.written:
		case <-t.C:
			l.mu.Lock()
			l.stalled = true
			l.mu.Unlock()
		}
	}
	return len(p), nil
}

// run writes the queued lines until none is left.
func (l *keyLog) run() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.queue) > 0 {
		line := l.queue[0]
		l.queue[0] = keyLogLine{}
		l.queue = l.queue[1:]
		failing := l.failing
		l.mu.Unlock()
		_, err := l.w.Write(line.b)
		if err != nil && !failing {
			l.warn(err)
		}
		l.mu.Lock()
		l.failing = err != nil
		l.queued -= len(line.b)
		if line.written != nil {
			close(line.written)
		}
	}
	l.queue = nil
	l.writing, l.stalled, l.dropping = false, false, false
}
