//go:build wasip1

package clocks

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// Instant is a monotonic-clock reading in nanoseconds.
type Instant = uint64

// Duration is a monotonic-clock duration in nanoseconds.
type Duration = uint64

// Now returns the current value of the monotonic clock.
//
//	now: func() -> instant;
func Now() Instant { return monotonicNow() }

// Resolution returns the resolution of the monotonic clock.
//
//	resolution: func() -> duration;
func Resolution() Duration { return monotonicResolution() }

// SubscribeInstant returns a pollable ready once the clock reaches when.
//
//	subscribe-instant: func(when: instant) -> pollable;
func SubscribeInstant(when Instant) io.Pollable {
	return io.Pollable(monotonicSubscribeInstant(when))
}

// SubscribeDuration returns a pollable ready once d has elapsed from now. A
// zero duration gives a pollable that is ready at once and stays ready.
//
//	subscribe-duration: func(when: duration) -> pollable;
func SubscribeDuration(d Duration) io.Pollable {
	return io.Pollable(monotonicSubscribeDuration(d))
}

// Datetime is a wall-clock time: seconds and nanoseconds since the epoch.
type Datetime struct {
	Seconds     uint64
	Nanoseconds uint32
}

// WallNow returns the wall-clock time.
//
//	now: func() -> datetime;
func WallNow() Datetime {
	wallNow(cabi.Ret())
	r := *(*datetimeMem)(cabi.Ret())
	return Datetime{Seconds: r.Seconds, Nanoseconds: r.Nanoseconds}
}

// WallResolution returns the wall-clock resolution.
//
//	resolution: func() -> datetime;
func WallResolution() Datetime {
	wallResolution(cabi.Ret())
	r := *(*datetimeMem)(cabi.Ret())
	return Datetime{Seconds: r.Seconds, Nanoseconds: r.Nanoseconds}
}

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 now
func monotonicNow() uint64

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 resolution
func monotonicResolution() uint64

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 subscribe-instant
func monotonicSubscribeInstant(when uint64) uint32

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 subscribe-duration
func monotonicSubscribeDuration(when uint64) uint32

//go:wasmimport wasi:clocks/wall-clock@0.2.8 now
func wallNow(ret unsafe.Pointer)

//go:wasmimport wasi:clocks/wall-clock@0.2.8 resolution
func wallResolution(ret unsafe.Pointer)
