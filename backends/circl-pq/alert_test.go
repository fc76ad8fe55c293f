package circlpq

import (
	"errors"
	"io"
	"testing"
)

// sendAlertRecords has c send n alert records of the given level and
// description, bypassing sendAlert (which would latch the write side).
func sendAlertRecords(t *testing.T, c *Conn, level byte, a Alert, n int) {
	t.Helper()
	c.out.Lock()
	defer c.out.Unlock()
	for range n {
		if _, err := c.writeRecordLocked(recordTypeAlert, []byte{level, byte(a)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUserCanceledIgnored checks that a warning-level user_canceled alert
// does not end the connection (RFC 8446, Section 6.1: it is a closure
// alert, followed by close_notify), that the close_notify after it does,
// and that only maxIgnoredAlerts in a row are ignored.
func TestUserCanceledIgnored(t *testing.T) {
	c, s, _, _ := established(t)
	sendAlertRecords(t, c, alertLevelWarning, alertUserCanceled, maxIgnoredAlerts)
	echo(t, c, s)
	// Data restarts the count.
	sendAlertRecords(t, c, alertLevelWarning, alertUserCanceled, maxIgnoredAlerts)
	echo(t, c, s)
	sendAlertRecords(t, c, alertLevelWarning, alertUserCanceled, 1)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after user_canceled and close_notify = %d, %v; want io.EOF", n, err)
	}

	t.Run("too-many", func(t *testing.T) {
		c, s, _, _ := established(t)
		sendAlertRecords(t, c, alertLevelWarning, alertUserCanceled, maxIgnoredAlerts+1)
		var ae *AlertError
		_, err := s.Read(make([]byte, 1))
		if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage {
			t.Fatalf("Read = %v; want a local unexpected_message", err)
		}
		if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ae) || !ae.Remote || ae.Alert != alertUnexpectedMessage {
			t.Errorf("peer Read = %v; want the unexpected_message alert", err)
		}
	})
	t.Run("fatal-level", func(t *testing.T) {
		c, s, _, _ := established(t)
		sendAlertRecords(t, c, alertLevelFatal, alertUserCanceled, 1)
		var ae *AlertError
		if _, err := s.Read(make([]byte, 1)); !errors.As(err, &ae) || !ae.Remote || ae.Alert != alertUserCanceled {
			t.Fatalf("Read = %v; want the peer's fatal user_canceled", err)
		}
	})
}
