//go:build wasip1

package clocks

import (
	monotonicclock "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/clocks/monotonic-clock"
	wallclock "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/clocks/wall-clock"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// Instant is a monotonic-clock reading in nanoseconds.
type Instant = monotonicclock.Instant

// Duration is a monotonic-clock duration in nanoseconds.
type Duration = monotonicclock.Duration

// Now returns the current value of the monotonic clock.
//
//	now: func() -> instant;
func Now() Instant { return monotonicclock.Now() }

// Resolution returns the resolution of the monotonic clock.
//
//	resolution: func() -> duration;
func Resolution() Duration { return monotonicclock.Resolution() }

// SubscribeInstant returns a pollable ready once the clock reaches when.
//
//	subscribe-instant: func(when: instant) -> pollable;
func SubscribeInstant(when Instant) io.Pollable { return monotonicclock.SubscribeInstant(when) }

// SubscribeDuration returns a pollable ready once d has elapsed from now. A
// zero duration gives a pollable that is ready at once and stays ready.
//
//	subscribe-duration: func(when: duration) -> pollable;
func SubscribeDuration(d Duration) io.Pollable { return monotonicclock.SubscribeDuration(d) }

// Datetime is a wall-clock time: seconds and nanoseconds since the epoch.
type Datetime = wallclock.Datetime

// WallNow returns the wall-clock time.
//
//	now: func() -> datetime;
func WallNow() Datetime { return wallclock.Now() }

// WallResolution returns the wall-clock resolution.
//
//	resolution: func() -> datetime;
func WallResolution() Datetime { return wallclock.Resolution() }
