package circlpq

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// sharedAhead is a pool of read-ahead bytes several connections count
// against, as a guest's connections count against its bound; each
// connection's transport is an aheadShare of it.
type sharedAhead struct {
	mu           sync.Mutex
	limit, total int64
}

type aheadShare struct {
	net.Conn
	pool *sharedAhead
	held int64
}

func (s *aheadShare) HoldReadAhead(n int64) error {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	if s.pool.total-s.held+n > s.pool.limit {
		return fmt.Errorf("test counter: %d bytes read ahead with the others', over %d", s.pool.total-s.held+n, s.pool.limit)
	}
	s.pool.total += n - s.held
	s.held = n
	return nil
}

// TestReadAheadRefusedHoldsNothing: 16 servers each hold most of a record
// of data a Read decrypted and took one byte of, when a certificate
// request starts reading ahead, under a bound of 64 KiB shared by all of
// them that takes the data of 3 at most. What the servers hold read
// ahead of their Reads together stays within the bound: a request whose
// connection the bound refuses even that data leaves it where the Read
// left it and reads nothing. Before, each request moved the data to a
// buffer of its own, which the bound refused and the connection kept all
// the same: 16 KiB a connection, uncounted.
func TestReadAheadRefusedHoldsNothing(t *testing.T) {
	const conns, limit = 16, 64 << 10
	pool := &sharedAhead{limit: limit}
	servers := make([]*Conn, conns)
	var held int64
	for i := range servers {
		craw, sraw := tcpPair(t)
		client, server := phaPairOver(t, craw, &aheadShare{Conn: sraw, pool: pool}, nil, nil)
		servers[i] = server
		if _, err := client.Write(make([]byte, maxPlaintext)); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		server.in.Lock()
		how, err := server.readForAuth(ctx, &authRequest{done: make(chan struct{})})
		held += server.aheadHeld()
		server.in.Unlock()
		cancel()
		if err != nil || how != authFull {
			t.Fatalf("connection %d: readForAuth = %d, %v; want authFull (%d)", i, how, err, authFull)
		}
	}
	t.Logf("%d connections hold %d bytes read ahead, told %d, under a bound of %d", conns, held, pool.total, limit)
	if held > limit || held != pool.total {
		t.Errorf("the servers hold %d bytes read ahead and told %d, under a bound of %d", held, pool.total, limit)
	}
	// The data is there for Read, whole.
	for i, server := range servers {
		if n, err := server.Read(make([]byte, maxPlaintext)); n != maxPlaintext-1 || err != nil {
			t.Fatalf("connection %d: Read after the request = %d, %v; want %d bytes", i, n, err, maxPlaintext-1)
		}
	}
	if pool.total != 0 {
		t.Errorf("once Read took the data the bound holds %d bytes, want 0", pool.total)
	}
}
