package circlpq

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"testing"
	"time"
)

// checkIdle fails when c, established and with everything read, still
// holds a record buffer.
func checkIdle(t *testing.T, name string, c *Conn) {
	t.Helper()
	c.in.Lock()
	defer c.in.Unlock()
	c.out.Lock()
	defer c.out.Unlock()
	if c.rawIn != nil || c.rawOff != 0 {
		t.Errorf("%s: idle connection holds a read buffer of %d bytes (%d unread)", name, cap(c.rawIn), len(c.rawIn)-c.rawOff)
	}
	if c.input != nil || cap(c.hand) != 0 {
		t.Errorf("%s: idle connection holds input (%d bytes) or handshake bytes (%d)", name, cap(c.input), cap(c.hand))
	}
	if c.sendBuf != nil {
		t.Errorf("%s: idle connection holds a send buffer of %d bytes", name, cap(c.sendBuf))
	}
}

// exchange writes data on w and reads it back from r in reads of at most
// chunk bytes.
func exchange(t *testing.T, w, r *Conn, data []byte, chunk int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		errc <- err
	}()
	got := make([]byte, 0, len(data))
	buf := make([]byte, chunk)
	for len(got) < len(data) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, buf[:n]...)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
}

// TestIdleHoldsNoRecordBuffer checks that an established connection gives
// its record buffers back once it has read everything: after the handshake,
// after small and large records read whole or in pieces, after KeyUpdates
// and session tickets, and after a timeout that left a partial record.
func TestIdleHoldsNoRecordBuffer(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	flaky := newFlakyConn(craw, 7)
	client, chs := engineClient(t, flaky, p.clientConfig())
	client.SetSessionCache(NewSessionCache(1))
	server, shs := engineServer(t, sraw, p.serverConfig(p.p256))
	if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	checkIdle(t, "server after the handshake", server)

	// The client has the server's ticket to read: one byte brings it in.
	exchange(t, server, client, []byte{1}, 1)
	checkIdle(t, "client after the first byte", client)

	large := bytes.Repeat([]byte("0123456789abcdef"), 5000) // five records
	for _, chunk := range []int{1 << 20, 1000, 7} {
		exchange(t, client, server, large, chunk)
		exchange(t, server, client, large, chunk)
		checkIdle(t, "client", client)
		checkIdle(t, "server", server)
	}

	// A record read only in part keeps its buffer; once read, it goes.
	if _, err := server.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := io.ReadFull(client, one); err != nil {
		t.Fatal(err)
	}
	client.in.Lock()
	held := len(client.input)
	client.in.Unlock()
	if held != len("partial")-1 {
		t.Fatalf("client holds %d bytes of input, want %d", held, len("partial")-1)
	}
	if _, err := io.ReadFull(client, make([]byte, held)); err != nil {
		t.Fatal(err)
	}
	checkIdle(t, "client after a record read in two", client)

	for _, request := range []bool{false, true} {
		if err := server.KeyUpdate(request); err != nil {
			t.Fatal(err)
		}
		exchange(t, server, client, []byte("after KeyUpdate"), 100)
		if request {
			exchange(t, client, server, []byte("answer"), 100)
		}
		checkIdle(t, "client after KeyUpdate", client)
		checkIdle(t, "server after KeyUpdate", server)
	}

	// A timeout inside a record keeps the partial record; the next Read
	// completes it and lets the buffer go.
	flaky.armed.Store(true)
	data := bytes.Repeat([]byte{0xa5}, 3000)
	if _, err := server.Write(data); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, len(data))
	buf := make([]byte, len(data))
	sawPartial := false
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < len(data) {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d bytes in 20 s: the timeouts never let the record through", len(got), len(data))
		}
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if !isTimeout(err) {
				t.Fatal(err)
			}
			client.in.Lock()
			if client.rawOff < len(client.rawIn) {
				sawPartial = true
			}
			client.in.Unlock()
		}
	}
	flaky.armed.Store(false)
	if !bytes.Equal(got, data) {
		t.Fatal("data differs after timeouts")
	}
	if !sawPartial {
		t.Error("no timeout fell inside the record")
	}
	checkIdle(t, "client after timeouts", client)
}

// TestIdleHoldsNoRecordBufferGoPeer checks the same against crypto/tls,
// whose tickets and record sizes differ from the engine's.
func TestIdleHoldsNoRecordBufferGoPeer(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	client, chs := engineClient(t, craw, p.clientConfig())
	client.SetSessionCache(NewSessionCache(1))
	gs := tls.Server(sraw, p.goServerConfig(p.p256))
	if cerr, serr := both(chs, func() error { return gs.HandshakeContext(context.Background()) }); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	echo(t, client, gs)
	big := bytes.Repeat([]byte{7}, 100000)
	cerr, serr := both(func() error {
		_, err := io.ReadFull(client, make([]byte, len(big)))
		return err
	}, func() error {
		_, err := gs.Write(big)
		return err
	})
	if cerr != nil || serr != nil {
		t.Fatalf("client %v, server %v", cerr, serr)
	}
	checkIdle(t, "client", client)
}
