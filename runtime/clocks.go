package runtime

import (
	"context"
	"math"
	"time"

	monotonicclock "github.com/wasitls/wasitls/bindings/wasi/clocks/monotonic-clock"
	"github.com/wasitls/wasitls/bindings/wasi/clocks/timezone"
	wallclock "github.com/wasitls/wasitls/bindings/wasi/clocks/wall-clock"
	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// epoch is instant 0 of the monotonic clock. Instants are nanoseconds on
// Go's monotonic clock since the process started using this package.
var epoch = time.Now()

// monotonicHost serves wasi:clocks/monotonic-clock.
type monotonicHost struct{}

func (monotonicHost) Now(ctx context.Context) monotonicclock.Instant {
	return uint64(time.Since(epoch))
}

func (monotonicHost) Resolution(ctx context.Context) monotonicclock.Duration { return 1 }

// SubscribeInstant returns a pollable ready from instant when on. A
// deadline costs no goroutine: poll sleeps until the earliest one.
func (monotonicHost) SubscribeInstant(ctx context.Context, when monotonicclock.Instant) poll.Pollable {
	return wasiio.NewPollable(wasiio.NewDeadline(epoch.Add(clampDuration(when))), nil)
}

// SubscribeDuration returns a pollable ready when d nanoseconds passed.
func (monotonicHost) SubscribeDuration(ctx context.Context, d monotonicclock.Duration) poll.Pollable {
	return wasiio.NewPollable(wasiio.NewDeadline(time.Now().Add(clampDuration(d))), nil)
}

// clampDuration converts nanoseconds to a Duration, a century at most (no
// overflow of time.Time arithmetic).
func clampDuration(ns uint64) time.Duration {
	const century = 100 * 365 * 24 * time.Hour
	if ns > uint64(century) || ns > math.MaxInt64 {
		return century
	}
	return time.Duration(ns)
}

// wallHost serves wasi:clocks/wall-clock.
type wallHost struct{}

func (wallHost) Now(ctx context.Context) wallclock.Datetime {
	now := time.Now()
	return wallclock.Datetime{Seconds: uint64(now.Unix()), Nanoseconds: uint32(now.Nanosecond())}
}

func (wallHost) Resolution(ctx context.Context) wallclock.Datetime {
	return wallclock.Datetime{Nanoseconds: 1}
}

// timezoneHost serves the unstable wasi:clocks/timezone with the host's
// local time zone.
type timezoneHost struct{}

func (timezoneHost) Display(ctx context.Context, when timezone.Datetime) timezone.TimezoneDisplay {
	t := datetime(when).Local()
	name, offset := t.Zone()
	return timezone.TimezoneDisplay{UTCOffset: int32(offset), Name: name, InDaylightSavingTime: t.IsDST()}
}

func (timezoneHost) UTCOffset(ctx context.Context, when timezone.Datetime) int32 {
	_, offset := datetime(when).Local().Zone()
	return int32(offset)
}

func datetime(d wallclock.Datetime) time.Time {
	sec := int64(min(d.Seconds, math.MaxInt64/2))
	return time.Unix(sec, int64(d.Nanoseconds%1e9))
}
