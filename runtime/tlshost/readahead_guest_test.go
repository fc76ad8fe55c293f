package tlshost_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestServerReadAheadBytes: a guest server that asks each of its n
// circl-pq clients for a certificate after the handshake, all at once,
// and reads nothing, while each client sends 1 MiB of data and keeps its
// answer until the data is out, makes the host hold about
// Config.ReadAheadBytes (2 MiB) of the clients' data, not 1 MiB a
// connection: the backend reads ahead of the guest, to find the answers,
// only as far as the guest's count lets it, and the cap's refusal is
// reported once. No connection fails at the cap: once the guest reads,
// every request completes and every byte arrives. Before, the host's
// heap grew by about n MiB.
func TestGuestServerReadAheadBytes(t *testing.T) {
	const limit, n, size = 2 << 20, 32, 1 << 20
	p := newGuestPKI(t)
	cert := bigCertificate(t, 1)
	b := circlpq.Backend{}
	small, id := phaIdentities(t, p, cert)
	log, rec := capreporttest.New()
	cfg := tlshost.Config{BackendName: b.Name(), ClientCAs: pool(t, cert), ReadAheadBytes: limit,
		HandshakeTimeout: 80 * time.Second, // a hang guard only
		Identities:       map[string]*backends.Identity{"local": id}}
	g := newLoggedLineGuestRuntime(t, cfg, "./testdata/peerchains", log).start(t, "phahold", "local", fmt.Sprint(n), fmt.Sprint(size))
	addr := strings.TrimPrefix(g.next(t, "listening on "), "listening on ")
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	var conns []backends.Conn
	var wg, writers sync.WaitGroup // readers and writers of the clients
	defer func() {
		cancel()
		for _, c := range conns {
			c.Close()
		}
		writers.Wait()
		wg.Wait()
	}()
	// dial makes a circl-pq client of the guest whose answer to a
	// certificate request waits for answer, and tells requested.
	dial := func(requested, answer chan struct{}) backends.Conn {
		c := dialPHA(t, ctx, addr, p, 80*time.Second /* a hang guard only */, func() *backends.Identity {
			close(requested)
			<-answer
			return small
		})
		conns = append(conns, c)
		return c
	}
	before := heapAfterGC()
	allWritten := make(chan struct{})
	chunk := make([]byte, 16<<10)
	for range n {
		requested, written := make(chan struct{}), make(chan struct{})
		c := dial(requested, written)
		// Reading meets the request.
		wg.Go(func() { io.Copy(io.Discard, c) })
		writers.Go(func() {
			defer close(written)
			select {
			case <-requested:
			case <-ctx.Done():
				return
			}
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					t.Errorf("writing the data: %v", err)
					return
				}
			}
		})
	}
	go func() { writers.Wait(); close(allWritten) }()
	// The host read ahead of the guest as far as it will once the cap
	// refused a read-ahead (the count never passes the cap), or once
	// every client's data is out (a host reading it all).
	for len(rec.Flags()) == 0 {
		select {
		case <-allWritten:
		case <-ctx.Done():
			t.Fatal("neither was the data out nor did the cap refuse a read-ahead")
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	grew := int64(heapAfterGC()) - int64(before)
	t.Logf("host heap grew by %d KiB with %d clients each sending %d KiB ahead of their answers", grew>>10, n, size>>10)
	if bound := int64(3*limit + n*64<<10); grew > bound {
		t.Errorf("the host's heap grew by %d KiB for a guest whose connections may read %d KiB ahead of it, want under %d KiB", grew>>10, limit>>10, bound>>10)
	}
	// The guest reads: every request completes, every byte arrives.
	ctl := dial(make(chan struct{}), make(chan struct{}))
	if _, err := ctl.Write([]byte("g")); err != nil {
		t.Fatal(err)
	}
	if out, want := g.next(t, "phahold: "), fmt.Sprintf("phahold: read %d, ok %d, failed 0: <nil>", n*size, n); out != want {
		t.Errorf("%s; want %s", out, want)
	}
	if err := rec.Check("--max-read-ahead-bytes", limit, 1); err != nil {
		t.Error(err)
	}
	g.end(t)
}
