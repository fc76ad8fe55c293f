package stdtls

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestTicketLengthAtTheBound: a crypto/tls client refuses a handshake
// message longer than 65,536 bytes, and a TLS 1.3 NewSessionTicket holds
// 13 bytes beside its ticket (6 in TLS 1.2), so a ticket longer than
// maxTicket, 65,523 bytes, fails the client's connection as it reads the
// ticket. Before, only tickets past the 65,535 bytes of the ticket's
// length field were replaced: a client chain whose sealed session came to
// 65,524-65,535 bytes (65,531-65,535 in TLS 1.2) was sent, and the
// client's Read failed ("handshake message of length 65548 bytes
// exceeds maximum of 65536 bytes"). A crypto/tls client presents chains
// sized so that the ticket of its session holds exactly maxTicket bytes,
// which it takes and stores, and chains 1 and 12 bytes larger (the
// ticket's length field full), which now get a ticket that resumes
// nothing. TLS 1.3 and 1.2.
func TestTicketLengthAtTheBound(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	// client is a self-signed Ed25519 client certificate, with a pool
	// trusting it, of an extension of size bytes (256 to 65,535: two
	// bytes of length whatever size is): its DER, a deterministic
	// signature and fixed fields, grows with size byte for byte.
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Now().Add(-time.Hour).Truncate(time.Second)
	client := func(size int) (tls.Certificate, *x509.CertPool) {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
			NotBefore: notBefore, NotAfter: notBefore.Add(2 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 4}, Value: make([]byte, size)}}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(parsed)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
	}
	// ticketLen connects a crypto/tls client presenting cert to a stdtls
	// server, reads a byte, and returns the length of the ticket the
	// client stored.
	ticketLen := func(version uint16, size int) int {
		t.Helper()
		cert, clientCAs := client(size)
		craw, sraw := testnet.TCPPairWithin(t, 10*time.Second)
		s, err := Backend{}.Server(sraw, &backends.ServerConfig{Identities: []*backends.Identity{server.Identity()},
			ClientCAs: clientCAs, ClientAuth: backends.RequestClientCert, TicketKeys: func() []backends.TicketKey { return []backends.TicketKey{{9}} }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		served := make(chan error, 1)
		go func() {
			err := s.Handshake(context.Background())
			if err == nil {
				_, err = s.Write([]byte{1})
			}
			served <- err
			io.Copy(io.Discard, s)
		}()
		captured := &capturedSessions{}
		c := tls.Client(craw, &tls.Config{ServerName: "a.test", RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert},
			MinVersion: version, MaxVersion: version, ClientSessionCache: captured})
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("%#x: client read: %v", version, err)
		}
		if err := <-served; err != nil {
			t.Fatalf("%#x: server: %v", version, err)
		}
		captured.mu.Lock()
		defer captured.mu.Unlock()
		if captured.last == nil {
			t.Fatalf("%#x: the client stored no session", version)
		}
		ticket, _, err := captured.last.ResumptionState()
		if err != nil {
			t.Fatal(err)
		}
		return len(ticket)
	}
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		// The ticket grows with the chain byte for byte: from one of
		// some 60 KB, find the chain of a ticket of maxTicket bytes.
		const size0 = 60000
		size := size0 + maxTicket - ticketLen(version, size0)
		if n := ticketLen(version, size); n != maxTicket {
			t.Fatalf("%#x: the client stored a ticket of %d bytes; want one of maxTicket, %d", version, n, maxTicket)
		}
		for _, more := range []int{1, 1<<16 - 1 - maxTicket} { // to the most a ticket's length field holds
			if n := ticketLen(version, size+more); n != 256 {
				t.Errorf("%#x: a chain %d bytes larger gave a ticket of %d bytes; want the 256 that resume nothing", version, more, n)
			}
		}
	}
}
