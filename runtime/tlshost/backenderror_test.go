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
// once, in what the guest reads and in the host's log line's error: a
// backend's own "fake: ..." is left alone, another error gets the name
// before it. Before, stdtls's post-handshake refusal read "tlshost: stdtls
// backend: stdtls: ...". The log line names the backend in its backend
// attribute too, as it does for every failure.
func TestBackendErrorNamesBackendOnce(t *testing.T) {
	b := &fakeBackend{}
	for _, tc := range []struct {
		err   error
		guest string // "": not the backend's
	}{
		{fmt.Errorf("fake: post-handshake client authentication is not implemented: %w", backends.ErrNotSupported),
			"fake: post-handshake client authentication is not implemented: not supported by this backend"},
		{errors.New("tls: unexpected message"), "tlshost: fake backend: tls: unexpected message"},
		{errors.New("tlshost: the connection was closed"), ""},
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
		_, logged, _ := strings.Cut(line, " err=")
		want := 0
		if tc.guest != "" {
			want = 1
		}
		if !strings.Contains(line, " backend=fake ") || strings.Count(logged, "fake") != want {
			t.Errorf("log line: %s; want the backend attribute and the error naming the backend %d times", line, want)
		}
	}
}
