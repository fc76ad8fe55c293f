package circlpq

import (
	"crypto/cipher"
	"crypto/rand"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// countingAEAD counts the decryptions of a ticket key.
type countingAEAD struct {
	cipher.AEAD
	opens *atomic.Int64
}

func (a countingAEAD) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	a.opens.Add(1)
	return a.AEAD.Open(dst, nonce, ciphertext, additionalData)
}

// TestHostilePSKIdentities offers a server with 8 ticket keys a
// ClientHello whose pre_shared_key holds 8 identities of 7.5 KB that are
// no ticket of this server, over loopback, and counts the decryptions the
// server tries: none, since no ticket it seals has that length; it runs a
// full handshake. Before, it tried each key on each identity, 64
// decryptions of 7.5 KB, which made the server's part of the handshake
// (X25519, ECDSA P-256) take 1.45 to 2 times as long as with a ClientHello
// of the same size without them. A ticket of the right length is still
// tried with every key (TestServerPSKBinder, TestTicketKeyRotation).
func TestHostilePSKIdentities(t *testing.T) {
	p := pki(t)
	var opens atomic.Int64
	defaultTicketAEAD := newTicketAEAD
	t.Cleanup(func() { newTicketAEAD = defaultTicketAEAD })
	newTicketAEAD = func(key []byte) (cipher.AEAD, error) {
		aead, err := defaultTicketAEAD(key)
		return countingAEAD{aead, &opens}, err
	}
	keys := make([]backends.TicketKey, maxTicketKeys)
	for i := range keys {
		rand.Read(keys[i][:])
	}
	sc := p.serverConfig(p.p256)
	sc.TicketKeys = func() []backends.TicketKey { return keys }

	client, server := tcpPair(t)
	_, hs := engineServer(t, server, sc)
	done := make(chan error, 1)
	go func() { done <- hs() }()
	ch := testClientHello(t, X25519)
	ch.pskModes = []uint8{pskModeDHE}
	for range 8 {
		label := make([]byte, 7500)
		rand.Read(label)
		ch.pskIdentities = append(ch.pskIdentities, pskIdentity{label: label})
		ch.pskBinders = append(ch.pskBinders, make([]byte, 32))
	}
	if _, err := client.Write(plainHandshakeRecords(ch.marshal())); err != nil {
		t.Fatal(err)
	}
	typ, body, err := readRawRecord(client)
	var sh serverHelloMsg
	if err != nil || typ != recordTypeHandshake || !sh.unmarshal(body) || sh.hasPreSharedKey {
		t.Fatalf("want a ServerHello of a full handshake; got %d %+v %v", typ, sh, err)
	}
	client.Close()
	<-done
	if n := opens.Load(); n != 0 {
		t.Errorf("the server tried %d ticket decryptions on identities that cannot be its tickets; want none", n)
	}
}
