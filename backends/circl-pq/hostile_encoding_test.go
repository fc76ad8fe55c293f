package circlpq

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// Fields of a ClientHello that others choose, and that may each take up to
// the 65,535 bytes all of its extensions share: a server's session ticket
// and HelloRetryRequest cookie, the application's ALPN IDs. Before,
// encoding a ClientHello they overfilled panicked: a server sending a
// 65,000-byte ticket crashed the process at the next handshake to its
// name run on a goroutine, or trapped the guest whose call ran it
// (TestGuestHostileTicket in runtime/tlshost).

// sealedMessage seals a handshake message as records of at most 16,000
// bytes each.
func sealedMessage(c *Conn, msg []byte) []byte {
	var out []byte
	for len(msg) > 0 {
		n := min(len(msg), 16000)
		out = append(out, sealed(c, recordTypeHandshake, msg[:n])...)
		msg = msg[n:]
	}
	return out
}

// TestHostileSessionTicket has a server send tickets a client cannot use:
// one too large to fit in a ClientHello is kept but never offered, and the
// next handshake to the server's name completes without resumption; one
// claiming a lifetime over seven days is illegal_parameter, as crypto/tls
// has it (before, its lifetime was cut to seven days and it was stored).
func TestHostileSessionTicket(t *testing.T) {
	p := pki(t)
	t.Run("too-large-to-offer", func(t *testing.T) {
		cache := NewSessionCache(4)
		hp := establish(t, true, func(cc *backends.ClientConfig, sc *backends.ServerConfig) { cc.Sessions = cache })
		m := &newSessionTicketMsg{lifetime: 3600, ageAdd: 1, nonce: []byte{1}, ticket: bytes.Repeat([]byte{7}, 65000)}
		flood := append(sealedMessage(hp.attacker, m.marshal()), sealed(hp.attacker, recordTypeApplicationData, []byte("x"))...)
		go hp.raw.Write(flood)
		if _, err := hp.victim.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.Sessions = cache
		c, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, p.serverConfig(p.p256))
		if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
			t.Fatalf("the handshake after the ticket: client %v, server %v", cerr, serr)
		}
		if c.State().DidResume {
			t.Error("resumed with a ticket that does not fit")
		}
	})
	t.Run("lifetime-over-seven-days", func(t *testing.T) {
		hp := establish(t, true, func(cc *backends.ClientConfig, sc *backends.ServerConfig) { cc.Sessions = NewSessionCache(4) })
		m := &newSessionTicketMsg{lifetime: 604801, ageAdd: 1, nonce: []byte{1}, ticket: []byte{1, 2, 3}}
		go hp.raw.Write(append(sealed(hp.attacker, recordTypeHandshake, m.marshal()), sealed(hp.attacker, recordTypeApplicationData, []byte("x"))...))
		_, err := hp.victim.Read(make([]byte, 1))
		if a, ok := errorAlert(err); !ok || a != alertIllegalParameter {
			t.Fatalf("Read: %v; want illegal_parameter", err)
		}
		if _, err := hp.attacker.Read(make([]byte, 1)); !isRemoteAlert(err, alertIllegalParameter) {
			t.Errorf("the server read %v; want the client's illegal_parameter", err)
		}
	})
}

func isRemoteAlert(err error, a Alert) bool {
	ae, ok := err.(*AlertError)
	return ok && ae.Remote && ae.Alert == a
}

// TestHostileHelloRetryCookie: a HelloRetryRequest whose cookie (65,000
// bytes, which RFC 8446 allows) leaves no room in the second ClientHello
// ends the handshake with internal_error (crypto/tls fails it too).
func TestHostileHelloRetryCookie(t *testing.T) {
	var sent Alert
	err, _ := scriptedServer(t, func(cfg *backends.ClientConfig) {
		cfg.Groups = []uint16{MLKEM768, MLKEM1024}
	}, func(ch *clientHelloMsg, w net.Conn) error {
		sh := serverHelloFor(ch)
		sh.random = helloRetryRequestRandom[:]
		sh.selectedGroup = MLKEM1024
		sh.cookie = bytes.Repeat([]byte{9}, 65000)
		if _, err := w.Write(plainHandshakeRecords(sh.marshal())); err != nil {
			return err
		}
		sent = readPlainAlert(t, w)
		return nil
	})
	if sent != alertInternalError {
		t.Errorf("client sent %v; want internal_error", sent)
	}
	if a, ok := errorAlert(err); !ok || a != alertInternalError || !strings.Contains(err.Error(), "cookie") {
		t.Errorf("client error = %v; want internal_error naming the cookie", err)
	}
}

// TestClientHelloTooLarge: ALPN IDs that fill the ClientHello's extensions
// (260 of 250 bytes: 65,260 bytes, under the extension's own bound) fail
// the handshake with an error, as crypto/tls's client does with the same
// list, rather than panic.
func TestClientHelloTooLarge(t *testing.T) {
	p := pki(t)
	var alpn []string
	for range 260 {
		alpn = append(alpn, strings.Repeat("a", 250))
	}
	craw, sraw := tcpPair(t)
	cc := p.clientConfig()
	cc.ALPN = alpn
	_, chs := engineClient(t, craw, cc)
	if err := chs(); err == nil || !strings.Contains(err.Error(), "ALPN") {
		t.Errorf("engine client: %v; want an error naming ALPN", err)
	}
	sraw.Close()
	craw, sraw = tcpPair(t)
	gc := p.goClientConfig()
	gc.NextProtos = alpn
	if err := tls.Client(craw, gc).Handshake(); err == nil {
		t.Error("crypto/tls's client sent the ClientHello")
	}
	sraw.Close()
}

// TestOwnMessagesTooLarge: what this side sends of its own configuration
// may not fit a message's length prefixes, and any client's handshake
// makes it send it. A ClientCAs pool whose names take more than a
// CertificateRequest's 65,535 bytes of extensions (600 CAs) is asked for
// without names, and the client's certificate is taken; an OCSP response
// of 64 KiB (a host's OCSP file may be that long), one byte more than its
// extension holds, fails the handshake with internal_error, as crypto/tls
// fails it. Before, encoding either panicked at every such handshake.
func TestOwnMessagesTooLarge(t *testing.T) {
	p := pki(t)
	t.Run("client-cas-over-64KiB", func(t *testing.T) {
		cas := p.root.Pool()
		for i := range 600 {
			ca, err := testpki.NewCAWith(fmt.Sprintf("%03d %s", i, strings.Repeat("n", 100)), testpki.ECDSAP256)
			if err != nil {
				t.Fatal(err)
			}
			cas.AddCert(ca.Cert)
		}
		for _, post := range []bool{false, true} {
			t.Run(fmt.Sprintf("post-handshake=%v", post), func(t *testing.T) {
				sc := p.serverConfig(p.p256)
				sc.ClientCAs = cas
				if post {
					client, server := phaPair(t, offer(p.client.Identity()), sc)
					readDone := clientReader(client)
					chain, err := requestIdentity(t, server)
					if err != nil || len(chain) == 0 {
						t.Fatalf("RequestClientIdentity = %d certificates, %v", len(chain), err)
					}
					server.Close()
					<-readDone
					return
				}
				sc.ClientAuth = backends.RequireClientCert
				craw, sraw := tcpPair(t)
				cc := p.clientConfig()
				cc.ClientIdentity = offer(p.client.Identity())
				_, chs := engineClient(t, craw, cc)
				s, shs := engineServer(t, sraw, sc)
				if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				if len(s.State().PeerChain) == 0 {
					t.Error("the server has no client certificate")
				}
			})
		}
	})
	t.Run("ocsp-64KiB", func(t *testing.T) {
		id := p.p256.Identity()
		id.OCSP = make([]byte, 64<<10)
		craw, sraw := tcpPair(t)
		_, chs := engineClient(t, craw, p.clientConfig())
		_, shs := engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{id}})
		cerr, serr := both(chs, shs)
		if a, ok := errorAlert(serr); !ok || a != alertInternalError || !strings.Contains(serr.Error(), "OCSP response of 65536 bytes") {
			t.Errorf("server: %v; want internal_error naming the OCSP response", serr)
		}
		if !isRemoteAlert(cerr, alertInternalError) {
			t.Errorf("client: %v; want the server's internal_error", cerr)
		}
	})
}
