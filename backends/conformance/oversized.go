package conformance

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// What the application gives a backend through the contract (on a wasi:tls
// host, what a guest gives it) may not fit the length prefixes of TLS 1.3:
// an ALPN ID holds 255 bytes, all of a ClientHello's extensions 65,535, a
// Certificate's chain 2^24 bytes, a TLS 1.3 exporter label 249. Each
// overflow must be an error of the handshake or of the call: a panic in a
// backend crashes a host, or traps the guest whose call the host ran.

// testOversizedClientConfig: a client whose ALPN IDs or server name do not
// fit the ClientHello is refused, or fails its handshake before it sends a
// handshake message.
func testOversizedClientConfig(e *env) {
	many := make([]string, 300)
	for i := range many {
		many[i] = strings.Repeat("a", 250)
	}
	for _, c := range []struct {
		name string
		set  func(cc *backends.ClientConfig)
	}{
		{"an ALPN ID of 256 bytes", func(cc *backends.ClientConfig) { cc.ALPN = []string{strings.Repeat("a", 256)} }},
		{"300 ALPN IDs of 250 bytes", func(cc *backends.ClientConfig) { cc.ALPN = many }},
		{"a server name of 70,000 bytes", func(cc *backends.ClientConfig) { cc.ServerName = strings.Repeat("a", 70000) }},
	} {
		cc := e.pki.clientConfig("a.test")
		c.set(cc)
		cRaw, sRaw := tcpPair(e.t)
		client, err := e.b.Client(cRaw, cc)
		if err != nil {
			// Refused with its configuration: as good.
			e.t.Logf("%s: Client: %.200v", c.name, err)
			cRaw.Close()
			sRaw.Close()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err = client.Handshake(ctx)
		cancel()
		if err == nil {
			e.t.Errorf("%s: the handshake succeeded", c.name)
		}
		e.t.Logf("%s: %.200v", c.name, err)
		// Whatever the client sent is on the wire by now.
		sRaw.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var first [1]byte
		if n, _ := sRaw.Read(first[:]); n == 1 && first[0] == 22 {
			e.t.Errorf("%s: the client sent a handshake record before failing (%v)", c.name, err)
		}
		client.Close()
		sRaw.Close()
	}
}

// oversizedChain is an identity's chain whose certificates take more than
// a Certificate message's 2^24 bytes: two junk certificates of 9 MiB each
// after the real ones (a guest may load such an identity where the host
// raised its identity size cap).
func oversizedChain(id *backends.Identity) *backends.Identity {
	junk := bytes.Repeat([]byte{0x30}, 9<<20)
	big := *id
	big.Chain = append(append([][]byte{}, id.Chain...), junk, junk)
	return &big
}

// testOversizedIdentity: a server or a client whose identity's chain does
// not fit a Certificate message fails the handshake (or has its
// configuration refused), and so does its peer.
func testOversizedIdentity(e *env) {
	sc := &backends.ServerConfig{Options: tls13(), Identities: []*backends.Identity{oversizedChain(e.pki.serverA.Identity())}}
	p := e.connect(e.pki.clientConfig("a.test"), sc)
	if p.serverErr == nil || p.clientErr == nil {
		e.t.Errorf("server identity of %d bytes: client %v, server %v; want both to fail", chainBytes(sc.Identities[0]), p.clientErr, p.serverErr)
	}
	e.t.Logf("server identity of %d bytes: client %v; server %v", chainBytes(sc.Identities[0]), p.clientErr, p.serverErr)
	big := oversizedChain(e.pki.client.Identity())
	cc := e.pki.clientConfig("a.test")
	cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		return []*backends.Identity{big}, nil
	}
	sc = e.pki.serverConfig(e.pki.serverA)
	sc.ClientAuth = backends.RequireClientCert
	p = e.connect(cc, sc)
	if p.serverErr == nil || p.clientErr == nil {
		e.t.Errorf("client identity of %d bytes: client %v, server %v; want both to fail", chainBytes(big), p.clientErr, p.serverErr)
	}
	e.t.Logf("client identity of %d bytes: client %v; server %v", chainBytes(big), p.clientErr, p.serverErr)
}

func chainBytes(id *backends.Identity) int {
	n := 0
	for _, c := range id.Chain {
		n += len(c)
	}
	return n
}

// testExporterLabelBound: a TLS 1.3 exporter label of 249 bytes exports
// the same keying material on both ends; a longer one is an error on
// either end (crypto/tls's exporter panics on it).
func testExporterLabelBound(e *env) {
	p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(e.pki.serverA))
	cx, cok := p.client.(backends.KeyingMaterialExporter)
	sx, sok := p.server.(backends.KeyingMaterialExporter)
	if !cok || !sok {
		e.t.Skipf("conformance: %s exports no keying material", e.b.Name())
	}
	label := strings.Repeat("l", backends.MaxTLS13ExporterLabel)
	a, aerr := cx.ExportKeyingMaterial(label, []byte("ctx"), 32)
	b, berr := sx.ExportKeyingMaterial(label, []byte("ctx"), 32)
	if aerr != nil || berr != nil || len(a) != 32 || !bytes.Equal(a, b) {
		e.t.Errorf("a %d-byte label: client %x (%v), server %x (%v); want the same 32 bytes", len(label), a, aerr, b, berr)
	}
	for _, n := range []int{backends.MaxTLS13ExporterLabel + 1, 300, 70000} {
		for side, x := range map[string]backends.KeyingMaterialExporter{"client": cx, "server": sx} {
			out, err := x.ExportKeyingMaterial(strings.Repeat("l", n), nil, 32)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint(n)) {
				e.t.Errorf("%s: a %d-byte label: %d bytes, %v; want an error naming the length", side, n, len(out), err)
			}
		}
	}
	e.exchange(p)
}
