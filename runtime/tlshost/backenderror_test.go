package tlshost

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// TestBackendErrorNamesBackendOnce: an error from the backend names it
// once, in what the guest reads and in the host's log line's error: a
// backend's own "fake: ..." is left alone, another error gets the name
// before it. Before, stdtls's post-handshake refusal read "tlshost: stdtls
// backend: stdtls: ...". The log line names the backend in its backend
// attribute too, as it does for every failure. The subtest "handshake"
// checks the handshake's failures (testHandshakeErrorNamesBackendOnce).
func TestBackendErrorNamesBackendOnce(t *testing.T) {
	t.Run("handshake", testHandshakeErrorNamesBackendOnce)
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

// testHandshakeErrorNamesBackendOnce: a handshake's failure names the
// backend that ran it once, on every backend, as a guest client's and as a
// guest server's, in the error the guest reads and in the host's log
// line's error (which keeps its backend attribute). The peer sends an
// HTTP answer instead of TLS. Before, circl-pq's read "tls: record is not
// TLS..." without its name, while stdtls's "stdtls: handshake: ..." named
// it. A failure that is the host's own (the guest's abort, the handshake
// timeout) does not name it in its text.
func testHandshakeErrorNamesBackendOnce(t *testing.T) {
	const notTLS = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		name := b.Name()
		check := func(t *testing.T, side string, err error) {
			t.Helper()
			if err == nil {
				t.Fatal("the handshake succeeded against a peer that does not speak TLS")
			}
			t.Logf("%s: %v", side, err)
			if n := strings.Count(err.Error(), name); n != 1 {
				t.Errorf("the guest reads %q, naming %s %d times; want once", err, name, n)
			}
			var logs bytes.Buffer
			h := &Host{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, backend: b}
			h.logFailure("finish", err, "side", side)
			line := logs.String()
			_, logged, _ := strings.Cut(line, " err=")
			if !strings.Contains(line, " backend="+name+" ") || strings.Count(logged, name) != 1 {
				t.Errorf("log line: %s; want the backend attribute and the error naming %s once", line, name)
			}
		}
		t.Run("client", func(t *testing.T) {
			checkNoLeak(t)
			addr, conns := accept(t)
			go func() {
				c := <-conns
				c.SetDeadline(time.Now().Add(waitLimit))
				c.Read(make([]byte, 512)) // the ClientHello, or part of it
				io.WriteString(c, notTLS)
				c.Close()
			}()
			s := newClientSession(b, backends.ClientConfig{}, dial(t, addr))
			defer s.Close()
			s.Connect("localhost")
			_, err := await(t, s.Finish())
			check(t, "client", err)
		})
		t.Run("server", func(t *testing.T) {
			checkNoLeak(t)
			addr, conns := accept(t)
			c := dial(t, addr)
			if _, err := io.WriteString(c, notTLS); err != nil {
				t.Fatal(err)
			}
			s := newServerSession(b, backends.ServerConfig{}, <-conns)
			defer s.Close()
			s.Accept()
			_, err := await(t, s.Finish())
			check(t, "server", err)
		})
		t.Run("aborted", func(t *testing.T) {
			// The guest's abort is the host's failure: no backend in it.
			checkNoLeak(t)
			addr, _ := accept(t)
			s := newClientSession(b, backends.ClientConfig{}, dial(t, addr))
			defer s.Close()
			s.Connect("localhost")
			f := s.Finish()
			waitSignal(t, s.Abort())
			if _, err := await(t, f); err == nil || strings.Contains(err.Error(), name) {
				t.Errorf("aborted handshake: %v; want a failure that does not name %s", err, name)
			}
		})
	})
}
