package circlpq

import (
	"bytes"
	"context"
	"crypto/tls"
	"slices"
	"testing"
)

// TestOCSPStapling: a server staples its identity's OCSP response to the
// leaf's CertificateEntry (RFC 8446, Section 4.4.2.1) for a client that
// sent status_request, and a client reports what was stapled; against
// crypto/tls on either side, and engine to engine. A resumed connection
// reports the response of the session's handshake.
func TestOCSPStapling(t *testing.T) {
	p := pki(t)
	staple := []byte("an OCSP response, DER in real life")
	t.Run("engine-server/go-client", func(t *testing.T) {
		for _, want := range [][]byte{staple, nil} {
			craw, sraw := tcpPair(t)
			scfg := p.serverConfig(p.p256)
			scfg.Identities[0].OCSP = want
			s, shs := engineServer(t, sraw, scfg)
			gc := tls.Client(craw, p.goClientConfig())
			if cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, shs); cerr != nil || serr != nil {
				t.Fatalf("client %v, server %v", cerr, serr)
			}
			echo(t, gc, s)
			if got := gc.ConnectionState().OCSPResponse; !bytes.Equal(got, want) {
				t.Errorf("crypto/tls got %q, want %q", got, want)
			}
		}
	})
	t.Run("go-server/engine-client", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		gcfg := p.goServerConfig(p.p256)
		gcfg.Certificates[0].OCSPStaple = staple
		gs := tls.Server(sraw, gcfg)
		c, chs := engineClient(t, craw, p.clientConfig())
		if cerr, serr := both(chs, func() error { return gs.HandshakeContext(context.Background()) }); cerr != nil || serr != nil {
			t.Fatalf("client %v, server %v", cerr, serr)
		}
		if got := c.State().OCSPResponse; !bytes.Equal(got, staple) {
			t.Errorf("engine got %q, want %q", got, staple)
		}
	})
	t.Run("engine-to-engine-and-resumed", func(t *testing.T) {
		cache := NewSessionCache(1)
		for i := range 2 {
			craw, sraw := tcpPair(t)
			scfg := p.serverConfig(p.p256)
			scfg.Identities[0].OCSP = staple
			s, shs := engineServer(t, sraw, scfg)
			c, chs := engineClient(t, craw, p.clientConfig())
			c.SetSessionCache(cache)
			if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
				t.Fatalf("%d: client %v, server %v", i, cerr, serr)
			}
			echo(t, c, s)
			if st := c.State(); !bytes.Equal(st.OCSPResponse, staple) || st.DidResume != (i == 1) {
				t.Errorf("%d: got %q, resumed %v", i, st.OCSPResponse, st.DidResume)
			}
		}
	})
}

// TestCertificateEntryStatus: status_request is read from the leaf's
// entry only; on another entry it is an unsolicited extension.
func TestCertificateEntryStatus(t *testing.T) {
	m := &certificateMsg{chain: [][]byte{[]byte("leaf"), []byte("ca")}, ocspStaple: []byte("resp")}
	var got certificateMsg
	if !got.unmarshal(m.marshal()) || !bytes.Equal(got.ocspStaple, []byte("resp")) || got.entryExtensions {
		t.Fatalf("round trip: %+v", got)
	}
	// Move the extension to the second entry by hand.
	raw := (&certificateMsg{chain: [][]byte{[]byte("ca")}, ocspStaple: []byte("resp")}).marshal()
	var second certificateMsg
	body := raw[4+1+3:] // type, length, empty context, list length
	twoEntries := append([]byte{0, 0, 4, 'l', 'e', 'a', 'f', 0, 0}, body...)
	msg := append([]byte{typeCertificate, 0, 0, byte(1 + 3 + len(twoEntries)), 0, 0, 0, byte(len(twoEntries))}, twoEntries...)
	if !second.unmarshal(msg) || second.ocspStaple != nil || !second.entryExtensions {
		t.Fatalf("status_request on the second entry: %+v", second)
	}
	// Twice on the leaf's entry: malformed (RFC 8446, Section 4.2), where
	// before the first was the staple and the second an unsolicited one.
	status := []byte{0, 5, 0, 5, statusTypeOCSP, 0, 0, 1, 'r'}
	twice := withEntryExtensions(t, m.marshal(), append(slices.Clone(status), status...))
	var dup certificateMsg
	if dup.unmarshal(twice) {
		t.Fatalf("status_request twice in the leaf's entry parsed: %+v", dup)
	}
	if !dup.unmarshal(withEntryExtensions(t, m.marshal(), status)) || !bytes.Equal(dup.ocspStaple, []byte("r")) || dup.entryExtensions {
		t.Fatalf("status_request once in the leaf's entry: %+v", dup)
	}
}
