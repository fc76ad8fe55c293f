package tlshost_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// timeoutLadder are the timeouts a time-sensitive test tries in turn (see
// timeSensitive): each leaves a normal peer three times the room of the
// one before; a machine that cannot finish a loopback handshake within
// 9 s cannot run these tests at all.
var timeoutLadder = []time.Duration{time.Second, 3 * time.Second, 9 * time.Second}

// timeSensitive runs f, as a subtest, with each of timeouts in turn
// until it returns nil, and fails the test if it never does. It is for a
// test of a timeout that a silent peer waits out and a normal peer must
// beat: short, the test is quick, but on a loaded machine a normal
// handshake may then miss it (the process may get no processor for a
// second), which proves nothing about the timeout. So f returns such a
// failure, one load can explain, as an error, and the test tries again
// with a longer timeout. f fails the test itself (t.Fatal) for what load
// cannot explain, a silent peer let go before its timeout above all:
// that is the bound these tests measure, and load only delays. A broken
// timeout fails every try.
func timeSensitive(t *testing.T, timeouts []time.Duration, f func(t *testing.T, timeout time.Duration) error) {
	t.Helper()
	var errs []error
	for _, d := range timeouts {
		var err error
		t.Run(fmt.Sprintf("timeout=%v", d), func(t *testing.T) {
			if err = f(t, d); err != nil {
				t.Skipf("%v (load may explain it: a normal peer missed the timeout)", err)
			}
		})
		if err == nil || t.Failed() {
			return
		}
		errs = append(errs, fmt.Errorf("with a timeout of %v: %w", d, err))
	}
	t.Fatalf("every timeout failed:\n%v", errors.Join(errs...))
}

// tookWithin checks how long something a timeout bounds took: no sooner
// than the timeout, which fails the test at once (load only delays), and
// within margin past it, else it returns an error that load may explain.
func tookWithin(t *testing.T, what string, took, timeout, margin time.Duration) error {
	t.Helper()
	if took < timeout {
		t.Fatalf("%s after %v, before the timeout of %v", what, took, timeout)
	}
	if took > timeout+margin {
		return fmt.Errorf("%s after %v, more than %v past the timeout of %v", what, took, margin, timeout)
	}
	return nil
}

// endsAt reads c until its peer ends it (or it is closed), discarding
// what it reads, and sends on the channel it returns when it ended.
func endsAt(c net.Conn) <-chan time.Time {
	ended := make(chan time.Time, 1)
	go func() {
		io.Copy(io.Discard, c)
		ended <- time.Now()
	}()
	return ended
}

// endedWithin waits up to d for ended and returns when it came.
func endedWithin(ended <-chan time.Time, d time.Duration) (time.Time, error) {
	select {
	case at := <-ended:
		return at, nil
	case <-time.After(d):
		return time.Time{}, fmt.Errorf("the connection did not end within %v", d)
	}
}

// verifiedAt returns cfg, cloned, recording in *at when its client
// verified the server's certificate: before it sent its Finished, so
// before the server's handshake ended and any timer the server starts
// then. (The time its handshake returns may come after those, on a
// loaded machine.)
func verifiedAt(cfg *tls.Config, at *time.Time) *tls.Config {
	cfg = cfg.Clone()
	cfg.VerifyConnection = func(tls.ConnectionState) error {
		*at = time.Now()
		return nil
	}
	return cfg
}
