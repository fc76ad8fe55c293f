package tlshost_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/tls13records"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestKeyLog: with a host key log, the secrets of a wasm guest's
// connection (client and server, both backends) decrypt the application
// data captured on the wire, as Wireshark would.
func TestGuestKeyLog(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("Client", func(t *testing.T) {
			var keyLog syncbuf.Buffer
			port, results := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			out, err := startGuestWith(t, tlshost.Config{BackendName: backend, KeyLog: &keyLog}, p, "./testdata/ext02", nil,
				"say", "localhost", port, "attack at dawn").wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			res := <-results
			if res.err != nil {
				t.Fatal(res.err)
			}
			// The peer recorded what the guest sent: client to server.
			plain := decryptTLS13(t, res.recorded, "CLIENT", res.state.CipherSuite, keyLog.String())
			if !bytes.Contains(plain, []byte("attack at dawn")) {
				t.Errorf("decrypted client data %q lacks the message", plain)
			}
		})
		t.Run("Server", func(t *testing.T) {
			var keyLog syncbuf.Buffer
			g := startGuestWith(t, tlshost.Config{BackendName: backend, KeyLog: &keyLog}, p, "./testdata/ext02", nil,
				"export-server", "/certs/localhost.key", "/certs/localhost.pem", "x", "none", "8")
			raw, err := net.Dial("tcp4", "127.0.0.1:"+g.port(t))
			if err != nil {
				t.Fatal(err)
			}
			rc := &recordingConn{Conn: raw}
			c := tls.Client(rc, &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "bye\n" {
				t.Fatalf("read %q, %v", got, err)
			}
			suite := c.ConnectionState().CipherSuite
			c.Close()
			if out, err := g.wait(t); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			plain := decryptTLS13(t, rc.recorded(), "SERVER", suite, keyLog.String())
			if !bytes.Contains(plain, []byte("bye\n")) {
				t.Errorf("decrypted server data %q lacks the message", plain)
			}
		})
	})
}

// TestGuestKeyLogFails: a key log whose writes fail (its file removed, the
// disk full) is logged and fails no handshake, with either backend.
// Before, crypto/tls failed every stdtls handshake on the error.
func TestGuestKeyLogFails(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		var log syncbuf.Buffer
		port, results := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
		cfg := tlshost.Config{BackendName: backend, KeyLog: failingWriter{}, Logger: slog.New(slog.NewTextHandler(&log, nil))}
		out, err := startGuestWith(t, cfg, p, "./testdata/ext02", nil, "say", "localhost", port, "attack at dawn").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if res := <-results; res.err != nil {
			t.Fatal(res.err)
		}
		if got := log.String(); strings.Count(got, "writing the key log failed") != 1 || !strings.Contains(got, "disk full") {
			t.Errorf("log %q; want the failure logged once", got)
		}
	})
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// decryptTLS13 decrypts one direction of a TLS 1.3 connection, as
// captured from its first byte, with the secrets of an NSS key log
// (side "CLIENT" or "SERVER"), and returns the application data. It
// checks that the key log holds exactly one connection's lines.
func decryptTLS13(t *testing.T, stream []byte, side string, suite uint16, keyLog string) []byte {
	t.Helper()
	secrets := map[string][]byte{}
	randoms := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(keyLog), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("key log line %q is not LABEL RANDOM SECRET", line)
		}
		s, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatal(err)
		}
		secrets[f[0]], randoms[f[1]] = s, true
	}
	if len(randoms) != 1 {
		t.Fatalf("key log holds %d client randoms, want 1:\n%s", len(randoms), keyLog)
	}
	hs, app := secrets[side+"_HANDSHAKE_TRAFFIC_SECRET"], secrets[side+"_TRAFFIC_SECRET_0"]
	if hs == nil || app == nil {
		t.Fatalf("key log lacks the %s secrets:\n%s", side, keyLog)
	}
	hsKeys, err := tls13records.NewSealer(suite, hs)
	if err != nil {
		t.Fatal(err)
	}
	appKeys, err := tls13records.NewSealer(suite, app)
	if err != nil {
		t.Fatal(err)
	}
	var appData []byte
	decrypted, underApp := 0, 0
	for len(stream) >= 5 {
		n := int(binary.BigEndian.Uint16(stream[3:5]))
		if len(stream) < 5+n {
			break
		}
		rec := stream[:5+n]
		stream = stream[5+n:]
		if rec[0] != 23 {
			continue // ClientHello, ServerHello, ChangeCipherSpec: in the clear
		}
		plain, err := hsKeys.Open(rec)
		if err != nil {
			if plain, err = appKeys.Open(rec); err != nil {
				t.Fatalf("a record (%d bytes) decrypts with neither logged %s secret", n, side)
			}
			underApp++
		}
		decrypted++
		plain = bytes.TrimRight(plain, "\x00")
		if len(plain) > 0 && plain[len(plain)-1] == 23 { // application_data
			appData = append(appData, plain[:len(plain)-1]...)
		}
	}
	if decrypted == 0 || underApp == 0 {
		t.Fatalf("decrypted %d records, %d with the traffic secret", decrypted, underApp)
	}
	return appData
}

// stuckWriter is a key log whose writes block until release is closed
// (a pipe nobody reads, a stalled network file system); it counts what
// it was given.
type stuckWriter struct {
	release chan struct{}
	mu      sync.Mutex
	got     int
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	w.got += len(p)
	w.mu.Unlock()
	return len(p), nil
}

// TestGuestKeyLogStuck: a key log writer that blocks for ever holds up no
// handshake for long: wasm guests' connections, one after another on one
// host, complete, with either backend, and the drops past
// tlshost.Config.KeyLogBytes are logged once (TestKeyLogHeld checks what
// is held). Before, every handshake wrote its lines under one lock, on
// its own goroutine: the first blocked for ever, and the guest's call
// with it, until the handshake timeout failed the connection.
func TestGuestKeyLogStuck(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		const maxBytes = 512
		w := &stuckWriter{release: make(chan struct{})}
		defer close(w.release)
		var log syncbuf.Buffer
		gr := newGuestRuntime(t, tlshost.Config{BackendName: backend, KeyLog: w, KeyLogBytes: maxBytes,
			HandshakeTimeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&log, nil))}, p)
		for i := range 4 {
			port, results := goServerPeer(t, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			out, err := gr.start(t, "./testdata/ext02", nil, "say", "localhost", port, "attack at dawn").wait(t)
			if err != nil {
				t.Fatalf("connection %d: %v\n%s", i, err, out)
			}
			if res := <-results; res.err != nil {
				t.Fatalf("connection %d: %v", i, res.err)
			}
		}
		if got := strings.Count(log.String(), "the key log's writer is behind"); got != 1 {
			t.Errorf("log %q: the drops logged %d times, want once", log.String(), got)
		}
	})
}
