package sockets

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// TestResolveDropClosesQueries: dropping a lookup whose DNS server never
// answers closes the resolver's connections to it at once, so its
// goroutines and sockets end with it, not at the resolver's timeout. The
// server's connections here ignore deadlines: only the host's close can
// end their reads. Before, the dropped lookup left the lookup limit at
// once while its queries held a goroutine and a socket each for
// resolv.conf's timeout (5 s by default), so a guest dropping and
// starting lookups held any number of them.
func TestResolveDropClosesQueries(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	queried := make(chan struct{}, 16)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := silent.ReadFrom(buf); err != nil {
				return
			}
			queried <- struct{}{}
		}
	}()
	var mu sync.Mutex
	var conns []*net.UDPConn
	p := new(Policy)
	if err := p.AllowConnect("*.silent.test:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(p)
	st.SetResolver(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", silent.LocalAddr().String())
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, c.(*net.UDPConn))
		mu.Unlock()
		return noDeadlineConn{c.(*net.UDPConn)}, nil
	}})
	r, err := st.Resolve(st.Network(), "a.silent.test")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-queried:
	case <-time.After(10 * time.Second):
		t.Fatal("the DNS server saw no query")
	}
	if st.Lookups() != 1 {
		t.Fatalf("%d lookups running, want 1", st.Lookups())
	}
	r.Drop()
	// A closed connection refuses a deadline; the resolver set its own
	// on each before its query.
	closed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			if err := c.SetDeadline(time.Time{}); err == nil {
				return false
			}
		}
		return len(conns) > 0
	}
	for deadline := time.Now().Add(10 * time.Second); !closed() || st.Lookups() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the drop: %d lookups running, the DNS connections closed: %v", st.Lookups(), closed())
		}
	}
}

// noDeadlineConn is a DNS connection whose reads have no deadline: a
// query over it ends only when its connection is closed.
type noDeadlineConn struct{ *net.UDPConn }

func (noDeadlineConn) SetDeadline(time.Time) error     { return nil }
func (noDeadlineConn) SetReadDeadline(time.Time) error { return nil }
