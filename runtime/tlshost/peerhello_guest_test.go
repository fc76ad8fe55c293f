package tlshost_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestServerALPNHelloCounts: clients that each send a ClientHello of
// 15,000 ALPN protocols of 3 bytes (61 KB) and then nothing, to a wasm
// guest server whose peers may make the host hold 4 MiB
// (Config.PeerCertBytes), make the host hold about that, on both
// backends: what the backend keeps parsed of the protocols counts with
// the bytes read, and the handshakes past the limit fail naming it.
// Before, only the bytes read counted: 48 such clients were all pending,
// holding 437 (circl-pq) to 511 (stdtls) KiB each, some 22 MiB.
func TestGuestServerALPNHelloCounts(t *testing.T) {
	const limit, clients = 4 << 20, 48
	p := newGuestPKI(t)
	var protos []string
	for i := range 15000 {
		protos = append(protos, fmt.Sprintf("%03d", i%1000))
	}
	hello := clientHelloBytes(t, protos)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuestWith(t, tlshost.Config{BackendName: backend, PeerCertBytes: limit}, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1000")
		port := g.port(t)
		before := heapAfterGC()
		for range clients {
			raw, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Write(hello); err != nil {
				t.Fatal(err)
			}
		}
		// At most limit/hello's count of them are pending; the others
		// fail naming the limit.
		if err := g.countWithin(20*time.Second, "peer certificate bytes", clients-limit/(len(hello)*5)); err != nil {
			t.Error(err)
		}
		grown := int64(heapAfterGC()) - int64(before)
		t.Logf("%d clients: the host's heap grew by %d KiB", clients, grown>>10)
		if grown > 2*limit {
			t.Errorf("%d clients of 61 KB ClientHellos made the host hold %d KiB, more than twice the %d KiB allowed", clients, grown>>10, limit>>10)
		}
	})
}

// clientHelloBytes is what a crypto/tls client offering the ALPN
// protocols protos sends first: its ClientHello, in records.
func clientHelloBytes(t *testing.T, protos []string) []byte {
	t.Helper()
	c := &helloCapture{}
	tls.Client(c, &tls.Config{ServerName: "localhost", NextProtos: protos}).Handshake()
	if c.buf.Len() == 0 {
		t.Fatal("the client sent no ClientHello")
	}
	return c.buf.Bytes()
}

// A helloCapture is a connection that keeps what is written to it and
// ends every read: a client's handshake over it writes its ClientHello
// and fails.
type helloCapture struct {
	net.Conn
	buf bytes.Buffer
}

func (c *helloCapture) Write(p []byte) (int, error)      { return c.buf.Write(p) }
func (c *helloCapture) Read([]byte) (int, error)         { return 0, errors.New("no server") }
func (c *helloCapture) Close() error                     { return nil }
func (c *helloCapture) SetDeadline(time.Time) error      { return nil }
func (c *helloCapture) SetReadDeadline(time.Time) error  { return nil }
func (c *helloCapture) SetWriteDeadline(time.Time) error { return nil }
