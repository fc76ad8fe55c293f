package wasiio

import (
	"context"
	"testing"
	"time"
)

type testAwaiter struct{ *Signal }

func (*testAwaiter) Await(context.Context, time.Time) bool { return false }

type testEnder struct{ testAwaiter }

func (*testEnder) EndAwait()       {}
func (*testEnder) ForgetEndAwait() {}

// TestAwaiters: the one look at a wait's sources finds the lone Awaiter
// beside deadlines, and the lone AwaitEnder beside sources to watch under
// a deadline, as Wait's two waits on the calling goroutine need.
func TestAwaiters(t *testing.T) {
	soon, later := time.Now().Add(time.Second), time.Now().Add(time.Hour)
	a, e, e2 := &testAwaiter{NewSignal()}, &testEnder{testAwaiter{NewSignal()}}, &testEnder{testAwaiter{NewSignal()}}
	plain := NewSignal()
	for _, tc := range []struct {
		name    string
		sources []Source
		sole    Awaiter
		ender   AwaitEnder
		at      time.Time
	}{
		{"awaiter alone", []Source{a}, a, nil, time.Time{}},
		{"awaiter, deadlines", []Source{NewDeadline(later), a, NewDeadline(soon)}, a, nil, soon},
		{"awaiter twice", []Source{a, a}, a, nil, time.Time{}},
		{"ender alone, deadline", []Source{e, NewDeadline(soon)}, e, nil, soon},
		{"two awaiters", []Source{a, e}, nil, nil, time.Time{}},
		{"ender beside awaiter, deadline", []Source{a, e, NewDeadline(soon)}, nil, e, soon},
		{"ender beside a signal, deadline", []Source{e, plain, NewDeadline(later)}, nil, e, later},
		{"ender beside a signal, no deadline", []Source{e, plain}, nil, nil, time.Time{}},
		{"two enders beside a signal", []Source{e, e2, plain, NewDeadline(soon)}, nil, nil, soon},
		{"awaiter beside a signal", []Source{a, plain, NewDeadline(soon)}, nil, nil, soon},
		{"no awaiter", []Source{plain, NewDeadline(soon)}, nil, nil, soon},
	} {
		sole, ender, at := awaiters(tc.sources)
		if sole != tc.sole || ender != tc.ender || !at.Equal(tc.at) {
			t.Errorf("%s: %v, %v, %v; want %v, %v, %v", tc.name, sole, ender, at, tc.sole, tc.ender, tc.at)
		}
	}
}
