package circlpq

import (
	"context"
	"crypto/tls"
	"testing"
)

// TestClientSNIForms: the server name a client sends is the name given
// to it as RFC 6066 has SNI: without a trailing dot (crypto/tls servers
// refuse a ClientHello with one, as malformed), and none for an address
// literal, bracketed or zoned too; the certificate is checked against the
// name as given.
func TestClientSNIForms(t *testing.T) {
	p := pki(t)
	for _, c := range []struct{ name, sni string }{
		{"a.test", "a.test"},
		{"a.test.", "a.test"},
		{"127.0.0.1", ""},
		{"[::1]", ""},
		{"fe80::1%eth0", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, server := tcpPair(t)
			cfg := p.clientConfig()
			cfg.ServerName = c.name
			cfg.InsecureSkipVerify = c.sni != "a.test"
			_, hs := engineClient(t, client, cfg)
			gcfg := p.goServerConfig(p.p256)
			var got string
			gcfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				got = h.ServerName
				return nil, nil
			}
			gs := tls.Server(server, gcfg)
			cerr, serr := both(hs, func() error { return gs.HandshakeContext(context.Background()) })
			if cerr != nil || serr != nil {
				t.Fatalf("client %v, server %v", cerr, serr)
			}
			if got != c.sni {
				t.Errorf("server name %q sent as %q, want %q", c.name, got, c.sni)
			}
		})
	}
}
