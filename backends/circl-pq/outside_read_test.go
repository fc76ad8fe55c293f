package circlpq

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// TestEngineWriteBesideBlockingReadFails: a server over the host's socket
// transport, its send queue full to wasiio.MaxUnsent for a
// client that reads nothing, waits in a blocking read (the wasi:tls
// host's read when the guest waits on its input stream), and then writes
// on another goroutine, outside that read: a post-handshake
// CertificateRequest, or close_notify (the guest dropping its output
// stream, or the connection). The write does not fit, and fails at once
// naming the peer that is not reading, rather than wait for room (for
// the request's context, or close_notify's 5 s): the queue cannot tell
// it from a write the engine makes from within the read, whose wait no
// deadline ends. Close then ends the read, and nothing of the connection
// is left.
func TestEngineWriteBesideBlockingReadFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(server *Conn) error
	}{
		{"CertificateRequest", func(server *Conn) error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := server.RequestClientIdentity(ctx)
			return err
		}},
		{"CloseWrite", (*Conn).CloseWrite},
		{"Close", (*Conn).Close},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pki(t)
			before := runtime.NumGoroutine()
			craw, sraw := testnet.TCPPair(t)
			sraw.SetWriteBuffer(4096)
			craw.SetReadBuffer(4096)
			tr, nb := socketTransport(t, sraw)
			deaf := &deafConn{Conn: craw, closed: make(chan struct{})}
			client, server := phaPairOver(t, deaf, tr, offer(p.clientEd.Identity()), nil)
			defer client.Close()
			deaf.deaf.Store(true)
			// Within 22 bytes of MaxUnsent or at it (a record of the fill
			// is 22 bytes more than its data; close_notify's is 24).
			fillUnsent(t, nb, server, wasiio.MaxUnsent-23, wasiio.MaxUnsent-22)
			read := make(chan error, 1)
			go func() {
				tr.SetReadDeadline(time.Now().Add(time.Minute)) // a hang guard only
				_, err := nb.ReadWait(server, make([]byte, 100))
				read <- err
			}()
			// The read is in the transport (a hang guard only).
			for deadline := time.Now().Add(10 * time.Second); !readingNow(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the server's read does not wait in the transport")
				}
			}
			wrote := make(chan error, 1)
			go func() { wrote <- tc.write(server) }()
			select {
			case err := <-wrote:
				if err == nil || !strings.Contains(err.Error(), "the peer is not reading") {
					t.Fatalf("the write beside the read returned %v; want the peer that is not reading named", err)
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the write beside the read waited for its deadline: %v", err)
				}
			case <-time.After(20 * time.Second): // a hang guard only
				t.Fatal("the write beside the read waits for room")
			}
			if n, _ := nb.Backlog().Unsent(); n > wasiio.MaxUnsent {
				t.Errorf("the send queue holds %d bytes, more than MaxUnsent", n)
			}
			server.Close()
			select {
			case <-read:
			case <-time.After(20 * time.Second): // a hang guard only
				t.Fatal("Close does not end the blocking read")
			}
			client.Close()
			awaitGoroutines(t, before)
		})
	}
}

// socketTransport is the host's socket transport over raw, and its
// non-blocking side; the test is skipped on a platform without one.
func socketTransport(t *testing.T, raw net.Conn) (net.Conn, wasiio.NonblockingTransport) {
	t.Helper()
	in, out, _ := wasiio.SocketStreams(raw, io.NopCloser(nil), raw.Close)
	tr, err := wasiio.Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	nb, ok := tr.(wasiio.NonblockingTransport)
	if !ok {
		t.Skip("the platform has no non-blocking transport")
	}
	return tr, nb
}

// fillUnsent writes through w, up to 1000 bytes at a time and no more
// than up to bytes unsent, until nb's send queue holds more than near
// unsent bytes, and again until the socket takes no more of it: more
// than near, and the same over three looks 50 ms apart (the kernel takes
// more of a stalled peer's window for a while).
func fillUnsent(t *testing.T, nb wasiio.NonblockingTransport, w io.Writer, near, up int) {
	t.Helper()
	for still, last := 0, -1; still < 3; {
		for {
			n, err := nb.Backlog().Unsent()
			if err != nil {
				t.Fatal(err)
			}
			if n > near {
				break
			}
			if _, err := w.Write(make([]byte, min(1000, up-n))); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
		n, _ := nb.Backlog().Unsent()
		if n > near && n == last {
			still++
		} else {
			still = 0
		}
		last = n
	}
}

// awaitGoroutines waits until no more goroutines run than before (a hang
// guard only): nothing of a connection is left.
func awaitGoroutines(t *testing.T, before int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before the connection\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}

// readingNow reports whether a goroutine waits in a transport's ReadWait.
func readingNow() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "wasiio.(*nonblockingConn).ReadWait")
}
