package tlshost

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// countedReads is a socket that counts the Reads of it entered.
type countedReads struct {
	*net.TCPConn
	entered atomic.Int32
}

func (c *countedReads) Read(p []byte) (int, error) {
	c.entered.Add(1)
	return c.TCPConn.Read(p)
}

// TestInlineReadDuringPostHandshakeAuth: a guest server's post-handshake
// certificate request reads the transport ahead of the guest, for its
// answer behind the data a circl-pq client sends; the client sent 5 bytes
// and then nothing (it reads nothing, so it never answers). A read of the
// guest's inline cleartext input, on the guest's call, returns those bytes:
// it waits neither for the client nor for the request's timeout. Before,
// it waited on the backend's read side, which the request held while it
// waited for the client, until the request's timeout. Then, the request
// reading the socket again, the guest's poll of the stream (Await, with
// a deadline) returns by its deadline: the deadline it sets goes through
// the backend's connection, which puts it back as the request's read,
// cut short for it, stops (set on the transport alone, it was lost, and
// the poll waited for the client).
func TestInlineReadDuringPostHandshakeAuth(t *testing.T) {
	checkNoLeak(t)
	ours, peer, _ := silentPair(t)
	sock := &countedReads{TCPConn: ours.(*net.TCPConn)}
	sin, sout, _ := wasiio.SocketStreams(sock, io.NopCloser(nil), func() error { return nil })
	tr, err := wasiio.Transport(sin, sout)
	if err != nil {
		t.Fatal(err)
	}
	s, conn, client := authPair(t, tr, peer, time.Minute, func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		return nil, nil
	})
	in, out := openStreams(conn, &s.ending, nil)
	defer out.Close()
	defer in.Close()
	if nc, ok := conn.(backends.NonblockingConn); !ok || !nc.NonblockingTransport() {
		t.Fatal("the streams are not inline")
	}
	if _, err := s.RequestClientIdentityPost(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The request read the bytes ahead of the guest (a hang guard only).
	counter := conn.(backends.ApplicationDataCounter)
	for deadline := time.Now().Add(waitLimit); counter.ApplicationDataRead() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request read nothing ahead of the guest")
		}
	}
	// The request reads the socket (it read the bytes), and the guest's
	// read cuts that read short: it reads the socket again after.
	reads := sock.entered.Load()
	read := make(chan string, 1)
	go func() {
		var got []byte
		for len(got) < 5 {
			b, err := in.Read(context.Background(), 10)
			if err != nil {
				t.Error(err)
				break
			}
			got = append(got, b...)
		}
		read <- string(got)
	}()
	select {
	case got := <-read:
		if got != "hello" {
			t.Fatalf("the guest read %q, want \"hello\"", got)
		}
	case <-time.After(waitLimit): // a hang guard only
		t.Fatal("the guest's read waited for the request reading ahead of it")
	}
	// The request reads the socket again (a hang guard only), and the
	// guest polls with a deadline: the poll's read cuts the request's
	// short and waits for its own deadline alone.
	for deadline := time.Now().Add(waitLimit); sock.entered.Load() == reads; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request does not read the socket again")
		}
	}
	aw, ok := in.Input.(interface {
		Await(context.Context, time.Time) bool
	})
	if !ok {
		t.Fatal("the inline input stream has no Await")
	}
	polled := make(chan struct{})
	go func() {
		aw.Await(context.Background(), time.Now().Add(100*time.Millisecond))
		close(polled)
	}()
	select {
	case <-polled:
	case <-time.After(waitLimit): // a hang guard only
		t.Fatal("the guest's poll waited past its deadline")
	}
}
