package tlshost_test

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	custombackend "github.com/wasitls/wasitls/examples/custom-backend"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// trickle copies src to dst in random small pieces with pauses, so that
// TLS records reach the other side split at arbitrary points, and starts
// late, so that the writer's socket fills and its transport queues.
func trickle(dst, src *net.TCPConn, seed uint64, startAfter time.Duration) {
	rng := rand.New(rand.NewPCG(seed, seed))
	time.Sleep(startAfter)
	buf := make([]byte, 4096)
	for i := 0; ; i++ {
		n, err := src.Read(buf[:1+rng.IntN(len(buf))])
		for off := 0; off < n; {
			k := min(n-off, 1+rng.IntN(1500))
			if _, werr := dst.Write(buf[off : off+k]); werr != nil {
				return
			}
			off += k
		}
		if i%64 == 63 {
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			dst.CloseWrite()
			return
		}
	}
}

// pattern is byte i of both directions' streams.
func pattern(i int) byte { return byte(i) }

// TestGuestStreamsIntegrity moves megabytes each way between a guest
// (package guest/tls, writes of 1 byte to 65 KiB) and a crypto/tls server
// through a proxy that splits records at random points and reads late, so
// that the guest's writes queue behind a full socket and its reads meet
// partial records. Every byte, the half-close (close_notify, then the
// server's answer) and the final close_notify must arrive intact.
func TestGuestStreamsIntegrity(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		streamIntegrity(t, p, tlshost.Config{BackendName: backend})
	})
	// A backend whose connections are not backends.NonblockingConn gets
	// goroutine streams over the same transport, which then blocks for
	// backpressure.
	t.Run("blocking", func(t *testing.T) {
		b := custombackend.New(nil, []string{"localhost"}, slog.New(slog.DiscardHandler))
		streamIntegrity(t, p, tlshost.Config{Backend: tlshost.BlockingBackend{Backend: b}})
	})
}

func streamIntegrity(t *testing.T, p *guestPKI, cfg tlshost.Config) {
	const up, down = 6 << 20, 3 << 20
	{
		srvLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
		if err != nil {
			t.Fatal(err)
		}
		defer srvLn.Close()
		srvErr := make(chan error, 1)
		go func() {
			c, err := srvLn.Accept()
			if err != nil {
				srvErr <- err
				return
			}
			defer c.Close()
			got := 0
			buf := make([]byte, 5000)
			for {
				n, err := c.Read(buf)
				for _, b := range buf[:n] {
					if b != pattern(got) {
						srvErr <- fmt.Errorf("server: byte %d is %d, want %d", got, b, pattern(got))
						return
					}
					got++
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					srvErr <- fmt.Errorf("server: read after %d bytes: %w", got, err)
					return
				}
			}
			if got != up {
				srvErr <- fmt.Errorf("server: read %d bytes, want %d", got, up)
				return
			}
			rng := rand.New(rand.NewPCG(7, 7))
			out := make([]byte, down)
			for i := range out {
				out[i] = pattern(i)
			}
			for off := 0; off < down; {
				k := min(down-off, 1+rng.IntN(40000))
				if _, err := c.Write(out[off : off+k]); err != nil {
					srvErr <- fmt.Errorf("server: write: %w", err)
					return
				}
				off += k
			}
			srvErr <- nil
		}()

		proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer proxyLn.Close()
		go func() {
			g, err := proxyLn.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", srvLn.Addr().String())
			if err != nil {
				g.Close()
				return
			}
			go trickle(s.(*net.TCPConn), g.(*net.TCPConn), 1, 300*time.Millisecond)
			trickle(g.(*net.TCPConn), s.(*net.TCPConn), 2, 0)
			time.Sleep(100 * time.Millisecond)
			g.Close()
			s.Close()
		}()

		g := startGuestWith(t, cfg, p, "./testdata/stream", nil, proxyLn.Addr().String(), strconv.Itoa(up))
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, out)
		}
		select {
		case err := <-srvErr:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server did not finish")
		}
		h := sha256.New()
		for i := range down {
			h.Write([]byte{pattern(i)})
		}
		mustContain(t, out, fmt.Sprintf("read %d bytes sha256 %x\n", down, h.Sum(nil)))
	}
}
