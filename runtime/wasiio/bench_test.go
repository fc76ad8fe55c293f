package wasiio

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// wakeOnWatch is a Source that becomes ready as soon as a waiter registers:
// it makes Wait go through the whole register, sleep, wake, unregister
// path without timing games.
type wakeOnWatch struct{ ready atomic.Bool }

func (s *wakeOnWatch) Ready() bool { return s.ready.Load() }
func (s *wakeOnWatch) Watch(w *Waker) {
	s.ready.Store(true)
	w.Wake()
}
func (s *wakeOnWatch) Unwatch(w *Waker) {}

func waitSources(n int) ([]Source, *wakeOnWatch) {
	srcs := make([]Source, n)
	for i := range n - 1 {
		srcs[i] = NewSignal()
	}
	last := &wakeOnWatch{}
	srcs[n-1] = last
	return srcs, last
}

func waitOnce(b *testing.B, srcs []Source, last *wakeOnWatch) {
	last.ready.Store(false)
	if ready, err := Wait(context.Background(), srcs); err != nil || len(ready) != 1 {
		b.Fatal(ready, err)
	}
}

// BenchmarkWait measures one Wait over n pollables of which one becomes
// ready after registration (the whole register, sleep, wake, unregister
// path), per pollable.
func BenchmarkWait(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			srcs, last := waitSources(n)
			for b.Loop() {
				waitOnce(b, srcs, last)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pollable")
		})
	}
}

// BenchmarkWaitScaling runs Wait over 100 and over 10,000 pollables in the
// same run and reports the per-pollable cost of the large call relative to
// the small one: 1.0 means the cost is proportional to the list.
func BenchmarkWaitScaling(b *testing.B) {
	small, lastSmall := waitSources(100)
	large, lastLarge := waitSources(10000)
	var ts, tl time.Duration
	for b.Loop() {
		start := time.Now()
		for range 100 {
			waitOnce(b, small, lastSmall)
		}
		ts += time.Since(start)
		start = time.Now()
		waitOnce(b, large, lastLarge)
		tl += time.Since(start)
	}
	b.ReportMetric(float64(tl)/float64(ts), "large/small-per-pollable")
}

// BenchmarkInputStream compares reading a loopback TCP connection through
// an InputStream (reader goroutine, BlockingRead) with reading the
// connection directly, in the same run: the "ratio" metric is stream time
// over direct time for the same bytes.
func BenchmarkInputStream(b *testing.B) {
	const size = 64 << 20
	pair := func(b *testing.B) (net.Conn, net.Conn) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		done := make(chan net.Conn)
		go func() {
			c, _ := ln.Accept()
			done <- c
		}()
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		return c, <-done
	}
	send := func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for n := 0; n < size; n += len(buf) {
			c.Write(buf)
		}
		c.Close()
	}
	direct := func(b *testing.B) time.Duration {
		r, w := pair(b)
		defer r.Close()
		start := time.Now()
		go send(w)
		buf := make([]byte, 64<<10)
		n, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
		if n != size {
			b.Fatalf("read %d", n)
		}
		return time.Since(start)
	}
	stream := func(b *testing.B) time.Duration {
		r, w := pair(b)
		s := NewInputStream(r, r)
		defer s.Close()
		start := time.Now()
		go send(w)
		ctx := context.Background()
		total := 0
		for {
			p, err := s.BlockingRead(ctx, 64<<10)
			if err != nil {
				break
			}
			total += len(p)
		}
		if total != size {
			b.Fatalf("read %d", total)
		}
		return time.Since(start)
	}
	var d, s time.Duration
	for b.Loop() {
		d += direct(b)
		s += stream(b)
	}
	b.SetBytes(size)
	b.ReportMetric(float64(s)/float64(d), "stream/direct")
}
