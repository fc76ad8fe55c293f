package tlshost

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// TestBackendErrorNamesBackendOnce: an error from the backend names it
// once, in what the guest reads and in the host's log line: a backend's
// own "fake: ..." is left alone, and its log line has no backend
// attribute; another error gets the name before it. Before, stdtls's
// post-handshake refusal read "tlshost: stdtls backend: stdtls: ..." under
// a log line's backend=stdtls.
func TestBackendErrorNamesBackendOnce(t *testing.T) {
	b := &fakeBackend{}
	for _, tc := range []struct {
		err       error
		guest     string // "": not the backend's
		attribute bool
	}{
		{fmt.Errorf("fake: post-handshake client authentication is not implemented: %w", backends.ErrNotSupported),
			"fake: post-handshake client authentication is not implemented: not supported by this backend", false},
		{errors.New("tls: unexpected message"), "tlshost: fake backend: tls: unexpected message", false},
		{errors.New("tlshost: the connection was closed"), "", true},
	} {
		var logs bytes.Buffer
		h := &Host{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, backend: b}
		err := tc.err
		if tc.guest != "" {
			err = backendErr(b, tc.err)
			if err.Error() != tc.guest || !errors.Is(err, tc.err) {
				t.Errorf("backendErr(%q) = %q; want %q, wrapping it", tc.err, err, tc.guest)
			}
		}
		h.logFailure("post-handshake client authentication", err, "side", "server")
		line := logs.String()
		if n := strings.Count(line, "fake"); n != 1 || strings.Contains(line, "backend=fake") != tc.attribute {
			t.Errorf("log line names the backend %d times (want once, as an attribute: %v): %s", n, tc.attribute, line)
		}
	}
}
