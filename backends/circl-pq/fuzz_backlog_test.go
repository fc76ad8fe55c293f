package circlpq

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// countingFeed is a feedConn with a backends.PeerBacklogCounter that
// checks, each time it is told, that the connection holds what it is
// told of.
type countingFeed struct {
	feedConn
	t       *testing.T
	c       *Conn
	limit   int64
	held    int64
	refused bool
}

func (f *countingFeed) HoldPeerBacklog(n int64) error {
	if n < 0 || n > maxHandshakeOther+4 {
		f.t.Fatalf("counter told of %d bytes", n)
	}
	// Read holds in: the connection is still and on this goroutine.
	if n != int64(len(f.c.hand)) {
		f.t.Fatalf("counter told of %d bytes; the connection holds %d", n, len(f.c.hand))
	}
	if n > f.limit {
		f.refused = true
		return fmt.Errorf("test counter: %d bytes, over %d", n, f.limit)
	}
	f.held = n
	return nil
}

// backlogRecords turns the fuzzer's bytes into the plaintext records of
// a peer, each a content type then content: op 0 a handshake record of
// the next L bytes, 1 application data of the next L bytes, 2 a
// handshake record of L×64 zero bytes (the body of a large message), 3
// an alert of the next 2 bytes; L is the byte after the op.
func backlogRecords(data []byte) [][]byte {
	var records [][]byte
	for len(data) >= 2 && len(records) < 64 {
		op, l := data[0]%4, int(data[1])
		data = data[2:]
		var rec []byte
		switch op {
		case 0, 1:
			l = min(l, len(data))
			rec = append([]byte{byte(recordTypeHandshake)}, data[:l]...)
			if op == 1 {
				rec[0] = byte(recordTypeApplicationData)
			}
			data = data[l:]
		case 2:
			rec = append([]byte{byte(recordTypeHandshake)}, make([]byte, max(1, l*64))...)
		case 3:
			rec = append([]byte{byte(recordTypeAlert)}, data[:min(2, len(data))]...)
			data = data[min(2, len(data)):]
		}
		records = append(records, rec)
	}
	return records
}

// FuzzPeerBacklog sends an established connection (a client or a
// server) records of post-handshake messages in pieces, data and alerts,
// and checks the backlog its transport's counter is told of
// (backends.PeerBacklogCounter): it is what the connection holds of a
// message in pieces each time it is told, never negative nor over the
// largest message, 0 whenever Read returns data, and a Read fails once
// the counter refuses.
func FuzzPeerBacklog(f *testing.F) {
	header := func(typ uint8, n int) []byte {
		return append([]byte{0, 4, typ}, binary.BigEndian.AppendUint32(nil, uint32(n))[1:]...)
	}
	app := []byte{1, 5, 'h', 'e', 'l', 'l', 'o'}
	big := append(header(typeNewSessionTicket, 60000), bytes.Repeat([]byte{2, 255}, 3)...)
	f.Add(append(append(header(typeNewSessionTicket, 12800), 2, 200), app...), true, uint8(255))
	f.Add(append(big, app...), true, uint8(40))
	f.Add(append(append(header(typeKeyUpdate, 1), 0, 1, 0), app...), false, uint8(255))
	f.Add(append(append(header(typeKeyUpdate, 12800), 2, 100, 2, 100), app...), false, uint8(255))
	f.Add(append(append(header(typeCertificateRequest, 20), app...), 0, 20), true, uint8(1))
	f.Add([]byte{0, 1, 4, 1, 5, 'h', 'e', 'l', 'l', 'o', 0, 3, 0, 0, 0, 3, 1, 0}, true, uint8(255))
	p := pki(f)
	ccfg, scfg := p.clientConfig(), p.serverConfig(p.p256)
	suite := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	f.Fuzz(func(t *testing.T, data []byte, isClient bool, limit uint8) {
		feed := &countingFeed{t: t, limit: int64(limit) << 9}
		feed.r = bytes.NewReader(sealRecords(suite, backlogRecords(data)...))
		var c *Conn
		var err error
		if isClient {
			c, err = Client(feed, ccfg)
		} else {
			c, err = Server(feed, scfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		feed.c = c
		c.in.setTrafficSecret(suite, fuzzSecret)
		c.out.setTrafficSecret(suite, fuzzSecret)
		c.handshakeDone.Store(true)
		buf := make([]byte, 1024)
		for range 1000 {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if feed.refused {
				t.Fatalf("Read = %d, nil after the counter refused", n)
			}
			if n > 0 && feed.held != 0 {
				t.Fatalf("Read returned data with %d bytes counted", feed.held)
			}
		}
		t.Fatal("Read neither ran out of input nor failed")
	})
}
