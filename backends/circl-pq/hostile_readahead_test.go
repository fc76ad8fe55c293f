package circlpq

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"
)

// TestHostileReadAheadCopies: a client that never answers its server's
// post-handshake certificate request and streams data, while the server
// reads it 16 KiB at a time, each Read waking the request, which reads
// ahead again up to its bound (1 MiB), as awaitAuth does. The data the
// server holds read ahead must not be copied again for each Read: bytes
// copied (moved to the buffer's front, or into a larger buffer) stay
// within twice the bytes Read took, plus the growth to 1 MiB. Moving the
// data left to the front at each call copied up to 1 MiB per Read, 64
// bytes per byte the peer sent at this read size (256 at 4 KiB), for as
// long as the request waits (30 s by default in the host). The data must
// come out intact, in order.
func TestHostileReadAheadCopies(t *testing.T) {
	const size, chunk = 8 << 20, 16 << 10
	craw, sraw := tcpPair(t)
	client, server := phaPairOver(t, craw, sraw, nil, nil)
	pattern := func(i int) byte { return byte(i % 251) }
	wrote := make(chan error, 1)
	go func() {
		data := make([]byte, size)
		for i := range data {
			data[i] = pattern(i)
		}
		_, err := client.Write(data)
		wrote <- err
	}()
	first := func(b []byte) uintptr {
		if len(b) == 0 {
			return 0
		}
		return uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	}
	req := &authRequest{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var delivered, copied int
	buf := make([]byte, chunk)
	check := func(n int) error {
		for i, b := range buf[:n] {
			if b != pattern(delivered+i) {
				return fmt.Errorf("byte %d read is %d, want %d", delivered+i, b, pattern(delivered+i))
			}
		}
		delivered += n
		return nil
	}
	// readForAuth is called only while the client has enough left to
	// send to fill its bound: it blocks for more otherwise.
	for delivered+len(server.input)+maxAuthBufferedInput+maxPlaintext <= size {
		server.in.Lock()
		at, kept := first(server.input), len(server.input)
		how, err := server.readForAuth(ctx, req)
		if kept > 0 && first(server.input) != at {
			copied += kept
		}
		server.in.Unlock()
		if err != nil {
			t.Fatalf("readForAuth: %v", err)
		}
		if how != authFull {
			t.Fatalf("readForAuth stopped with %d, want authFull", how)
		}
		n, err := server.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(n); err != nil {
			t.Fatal(err)
		}
	}
	for delivered < size {
		n, err := server.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes read, %d bytes read ahead copied again (%.2f a byte)", delivered, copied, float64(copied)/float64(delivered))
	if most := 2*delivered + 2*maxAuthBufferedInput; copied > most {
		t.Errorf("reading %d bytes copied %d bytes read ahead again, want %d at most", delivered, copied, most)
	}
}
