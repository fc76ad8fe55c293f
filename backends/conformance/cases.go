package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// testCase is one behaviour, run in each of its pairings.
type testCase struct {
	name  string
	modes []mode               // nil: all pairings
	caps  func(o Options) bool // nil: always
	run   func(e *env)
}

var cases = []testCase{
	{name: "Handshake", run: testHandshake},
	{name: "KeyTypes", run: testKeyTypes},
	{name: "SNI", run: testSNI},
	{name: "NoSNIForIPAddress", run: testNoSNIForIP},
	{name: "ALPN", run: testALPN},
	{name: "ALPNMismatch", run: testALPNMismatch},
	{name: "Groups", run: testGroups},
	{name: "HelloRetryRequest", run: testHelloRetryRequest},
	{name: "NoPostQuantumDowngrade", modes: []mode{scriptedClient}, run: testNoPQDowngrade},
	{name: "ValidationTime", modes: clientModes, run: testValidationTime},
	{name: "VerifyServerSeesChain", modes: clientModes, run: testVerifyServerChain},
	{name: "VerifyServerAbort", modes: clientModes, run: testVerifyServerAbort},
	{name: "DefaultValidation", modes: clientModes, run: testDefaultValidation},
	{name: "PeerRSAKeyBound", run: testPeerRSAKeyBound},
	{name: "ClientCertificate", run: testClientCertificate},
	{name: "ClientCertificateOptionalMissing", run: testClientCertOptionalMissing},
	{name: "ClientCertificateRequiredMissing", run: testClientCertRequiredMissing},
	{name: "ClientIdentitySelection", modes: clientModes, run: testClientIdentitySelection},
	{name: "NoClientIdentityRequest", modes: clientModes, run: testNoClientIdentityRequest},
	{name: "ClientHelloHook", modes: serverModes, run: testClientHelloHook},
	{name: "ClientHelloAbort", modes: serverModes, run: testClientHelloAbort},
	{name: "HookOrder", run: testHookOrder},
	{name: "CloseNotify", run: testCloseNotify},
	{name: "Truncation", modes: clientModes, run: testTruncation},
	{name: "CancelWaitingForPeer", modes: bothBackendOnly, run: testCancelWaitingForPeer},
	{name: "CancelInHook", modes: clientModes, run: testCancelInHook},
	{name: "PostHandshakeAuthUnsupported", modes: serverModes,
		caps: func(o Options) bool { return !o.PostHandshakeClientAuth }, run: testPostHandshakeUnsupported},
	{name: "PostHandshakeAuth", modes: bothBackendOnly,
		caps: func(o Options) bool { return o.PostHandshakeClientAuth }, run: testPostHandshakeAuth},
	{name: "WrapperForwardsOptionalInterfaces", modes: bothBackendOnly, run: testWrapperForwards},
	{name: "WrapperKeepsTransportCounters", modes: bothBackendOnly, run: testWrapperKeepsTransportCounters},
	{name: "ParseIdentity", modes: bothBackendOnly, run: testParseIdentity},
	{name: "OversizedClientConfig", modes: []mode{backendClient}, run: testOversizedClientConfig},
	{name: "OversizedIdentity", modes: bothBackendOnly, run: testOversizedIdentity},
	{name: "ExporterLabelBound", modes: bothBackendOnly, run: testExporterLabelBound},
	{name: "ResumptionRechecksTrust", modes: clientModes, caps: resumes, run: testResumptionRechecksTrust},
	{name: "ResumptionKeepsNoClientIdentity", modes: clientModes, caps: resumes, run: testResumptionKeepsNoClientIdentity},
	{name: "TicketBoundToIdentity", modes: serverModes, caps: resumes, run: testTicketBoundToIdentity},
	{name: "AskingServerResumesNoAnonymousSession", modes: serverModes, caps: resumes, run: testAskingServerResumesNoAnonymousSession},
	{name: "MLDSAIdentities", modes: bothBackendOnly, caps: func(o Options) bool { return o.MLDSA }, run: testMLDSAIdentities},
	{name: "MLDSAHybridChains", modes: bothBackendOnly, caps: func(o Options) bool { return o.MLDSA }, run: testMLDSAHybridChains},
	{name: "MLDSAValidation", modes: bothBackendOnly, caps: func(o Options) bool { return o.MLDSA }, run: testMLDSAValidation},
}

// resumes is the capability of the resumption cases.
func resumes(o Options) bool { return o.Resumption }

func (e *env) clientIsBackend() bool { return e.mode == bothBackend || e.mode == backendClient }
func (e *env) serverIsBackend() bool { return e.mode != backendClient }

func equalChains(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

// exchange sends a message each way and checks it arrives.
func (e *env) exchange(p *pair) {
	e.t.Helper()
	deadline := time.Now().Add(handshakeTimeout)
	p.clientRaw.SetDeadline(deadline)
	p.serverRaw.SetDeadline(deadline)
	if _, err := p.client.Write([]byte("ping")); err != nil {
		e.t.Fatalf("client Write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(p.server, buf); err != nil || string(buf) != "ping" {
		e.t.Fatalf("server Read = %q, %v; want \"ping\"", buf, err)
	}
	if _, err := p.server.Write([]byte("pong")); err != nil {
		e.t.Fatalf("server Write: %v", err)
	}
	if _, err := io.ReadFull(p.client, buf); err != nil || string(buf) != "pong" {
		e.t.Fatalf("client Read = %q, %v; want \"pong\"", buf, err)
	}
}

func testHandshake(e *env) {
	p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(e.pki.serverA))
	cs, ss := p.client.State(), p.server.State()
	for _, s := range []struct {
		side string
		st   backends.State
	}{{"client", cs}, {"server", ss}} {
		if !s.st.HandshakeComplete {
			e.t.Errorf("%s State: HandshakeComplete = false", s.side)
		}
		if s.st.Version != tls.VersionTLS13 {
			e.t.Errorf("%s State: Version = %#04x, want 0x0304", s.side, s.st.Version)
		}
		if s.st.CipherSuite == 0 || s.st.Group == 0 {
			e.t.Errorf("%s State: CipherSuite = %#04x, Group = %#04x; want both set", s.side, s.st.CipherSuite, s.st.Group)
		}
	}
	if cs.CipherSuite != ss.CipherSuite || cs.Group != ss.Group {
		e.t.Errorf("client and server disagree: suite %#04x/%#04x, group %#04x/%#04x", cs.CipherSuite, ss.CipherSuite, cs.Group, ss.Group)
	}
	if !equalChains(cs.PeerChain, e.pki.serverA.Chain) {
		e.t.Errorf("client State: PeerChain has %d certificates, not the server's chain of %d", len(cs.PeerChain), len(e.pki.serverA.Chain))
	}
	if len(ss.PeerChain) != 0 {
		e.t.Errorf("server State: PeerChain has %d certificates without client authentication", len(ss.PeerChain))
	}
	if ss.ServerName != "a.test" {
		e.t.Errorf("server State: ServerName = %q, want a.test", ss.ServerName)
	}
	if e.clientIsBackend() && cs.ServerName != "a.test" {
		e.t.Errorf("client State: ServerName = %q, want a.test", cs.ServerName)
	}
	if e.serverIsBackend() && (ss.LocalIdentity == nil || !bytes.Equal(ss.LocalIdentity.Chain[0], e.pki.serverA.Chain[0])) {
		e.t.Errorf("server State: LocalIdentity is not the presented identity")
	}
	if e.clientIsBackend() && cs.LocalIdentity != nil {
		e.t.Errorf("client State: LocalIdentity set without client authentication")
	}
	e.exchange(p)
}

func testKeyTypes(e *env) {
	for _, l := range []*testpki.Leaf{e.pki.ed25519, e.pki.rsa} {
		p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(l))
		if got := p.client.State().PeerChain; len(got) == 0 || !bytes.Equal(got[0], l.Chain[0]) {
			e.t.Errorf("%T server key: client did not get the server's certificate", l.Key)
		}
		e.exchange(p)
	}
}

func testSNI(e *env) {
	p := e.mustConnect(e.pki.clientConfig("b.test"), e.pki.serverConfig(e.pki.serverA, e.pki.serverB))
	if got := p.client.State().PeerChain; len(got) == 0 || !bytes.Equal(got[0], e.pki.serverB.Chain[0]) {
		e.t.Errorf("server did not select the identity for b.test by SNI")
	}
	if got := p.server.State().ServerName; got != "b.test" {
		e.t.Errorf("server State: ServerName = %q, want b.test", got)
	}
	if e.serverIsBackend() {
		if id := p.server.State().LocalIdentity; id == nil || !bytes.Equal(id.Chain[0], e.pki.serverB.Chain[0]) {
			e.t.Errorf("server State: LocalIdentity is not the identity selected by SNI")
		}
	}
}

func testNoSNIForIP(e *env) {
	p := e.mustConnect(e.pki.clientConfig("127.0.0.1"), e.pki.serverConfig(e.pki.local))
	if got := p.server.State().ServerName; got != "" {
		e.t.Errorf("server saw SNI %q for an IP address; RFC 6066, Section 3 forbids literal addresses", got)
	}
}

func testALPN(e *env) {
	cc := e.pki.clientConfig("a.test")
	cc.ALPN = []string{"h2", "http/1.1"}
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ALPN = []string{"h2"}
	p := e.mustConnect(cc, sc)
	if c, s := p.client.State().ALPN, p.server.State().ALPN; c != "h2" || s != "h2" {
		e.t.Errorf("ALPN: client %q, server %q; want h2", c, s)
	}
	// No ALPN offered: none negotiated, no failure.
	p = e.mustConnect(e.pki.clientConfig("a.test"), sc)
	if c, s := p.client.State().ALPN, p.server.State().ALPN; c != "" || s != "" {
		e.t.Errorf("ALPN without client offer: client %q, server %q; want none", c, s)
	}
}

func testALPNMismatch(e *env) {
	cc := e.pki.clientConfig("a.test")
	cc.ALPN = []string{"h2"}
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ALPN = []string{"x-other"}
	p := e.connect(cc, sc)
	if p.serverErr == nil {
		e.t.Errorf("server handshake succeeded without a common ALPN protocol")
	}
	if !sawAlert(p.clientErr, backends.AlertNoApplicationProtocol) {
		e.t.Errorf("client error = %v; want a no_application_protocol alert (RFC 7301, Section 3.2)", p.clientErr)
	}
}

func testGroups(e *env) {
	cc := e.pki.clientConfig("a.test")
	cc.Groups = []uint16{uint16(tls.X25519)}
	p := e.mustConnect(cc, e.pki.serverConfig(e.pki.serverA))
	if c, s := p.client.State().Group, p.server.State().Group; c != uint16(tls.X25519) || s != uint16(tls.X25519) {
		e.t.Errorf("Group: client %#04x, server %#04x; want X25519 (0x001d)", c, s)
	}
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.Groups = []uint16{uint16(tls.CurveP256)}
	p = e.mustConnect(e.pki.clientConfig("a.test"), sc)
	if c, s := p.client.State().Group, p.server.State().Group; c != uint16(tls.CurveP256) || s != uint16(tls.CurveP256) {
		e.t.Errorf("Group: client %#04x, server %#04x; want P-256 (0x0017)", c, s)
	}
}

func testVerifyServerChain(e *env) {
	var got [][]byte
	n := 0
	cc := e.pki.clientConfig("a.test")
	cc.VerifyServer = func(ctx context.Context, chain [][]byte) error {
		n++
		got = chain
		return nil
	}
	e.mustConnect(cc, e.pki.serverConfig(e.pki.serverA))
	if n != 1 {
		e.t.Errorf("VerifyServer called %d times, want 1", n)
	}
	if !equalChains(got, e.pki.serverA.Chain) {
		e.t.Errorf("VerifyServer saw %d certificates, not the server's chain (leaf and intermediate)", len(got))
	}
}

func testVerifyServerAbort(e *env) {
	cc := e.pki.clientConfig("a.test")
	cc.VerifyServer = func(ctx context.Context, chain [][]byte) error { return backends.ErrAborted }
	p := e.connect(cc, e.pki.serverConfig(e.pki.serverA))
	if !errors.Is(p.clientErr, backends.ErrAborted) {
		e.t.Errorf("client error = %v; want one wrapping ErrAborted", p.clientErr)
	}
	if !sawAlert(p.serverErr, backends.AlertBadCertificate) {
		e.t.Errorf("server error = %v; want a bad_certificate alert", p.serverErr)
	}
}

func testDefaultValidation(e *env) {
	for _, tc := range []struct {
		name    string
		server  *testpki.Leaf
		dial    string
		mention string
	}{
		{"WrongHostname", e.pki.serverA, "c.test", "c.test"},
		{"UnknownCA", e.pki.untrusted, "a.test", "authority"},
		{"Expired", e.pki.expired, "a.test", "expired"},
	} {
		called := false
		cc := e.pki.clientConfig(tc.dial)
		cc.VerifyServer = func(context.Context, [][]byte) error { called = true; return nil }
		p := e.connect(cc, e.pki.serverConfig(tc.server))
		switch {
		case p.clientErr == nil:
			e.t.Errorf("%s: client handshake succeeded", tc.name)
		case !strings.Contains(p.clientErr.Error(), tc.mention):
			e.t.Errorf("%s: client error %q does not mention %q", tc.name, p.clientErr, tc.mention)
		}
		if p.serverErr == nil {
			e.t.Errorf("%s: server handshake succeeded", tc.name)
		}
		if called {
			e.t.Errorf("%s: VerifyServer called for a chain that failed default validation", tc.name)
		}
	}
}

// testPeerRSAKeyBound: a backend refuses a peer's certificate whose RSA
// key is larger than Options.MaxRSAKeyBits, naming the bound, and its
// verify hook does not run. The key has no private key behind it
// (testpki.HugeRSAKey): a backend that verified the peer's signature
// instead of refusing the key would fail on the signature, unnamed.
func testPeerRSAKeyBound(e *env) {
	key, err := testpki.HugeRSAKey(4096)
	if err != nil {
		e.t.Fatal(err)
	}
	server, err := e.pki.root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, PrivateKey: key})
	if err != nil {
		e.t.Fatal(err)
	}
	client, err := e.pki.root.Issue(testpki.LeafOptions{CommonName: "conformance huge client", Usage: testpki.ClientAuth, PrivateKey: key})
	if err != nil {
		e.t.Fatal(err)
	}
	const want = "RSA key larger than 2048 bits"
	if e.clientIsBackend() {
		called := false
		cc := e.pki.clientConfig("a.test")
		cc.MaxRSAKeyBits = 2048
		cc.VerifyServer = func(context.Context, [][]byte) error { called = true; return nil }
		p := e.connect(cc, e.pki.serverConfig(server))
		if p.clientErr == nil || !strings.Contains(p.clientErr.Error(), want) {
			e.t.Errorf("client error %v; want one naming the bound (%q)", p.clientErr, want)
		}
		if called {
			e.t.Error("VerifyServer called for a chain over the RSA key bound")
		}
	}
	if e.serverIsBackend() {
		called := false
		sc := e.pki.serverConfig(e.pki.serverA)
		sc.ClientAuth = backends.RequireClientCert
		sc.MaxRSAKeyBits = 2048
		sc.VerifyClient = func(context.Context, [][]byte) error { called = true; return nil }
		p := e.connect(e.clientWithIdentity(client), sc)
		if p.serverErr == nil || !strings.Contains(p.serverErr.Error(), want) {
			e.t.Errorf("server error %v; want one naming the bound (%q)", p.serverErr, want)
		}
		if called {
			e.t.Error("VerifyClient called for a chain over the RSA key bound")
		}
	}
}

func (e *env) clientWithIdentity(ids ...*testpki.Leaf) *backends.ClientConfig {
	cc := e.pki.clientConfig("a.test")
	cc.ClientIdentity = func(ctx context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
		var out []*backends.Identity
		for _, l := range ids {
			out = append(out, l.Identity())
		}
		return out, nil
	}
	return cc
}

func testClientCertificate(e *env) {
	var seen [][]byte
	n := 0
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientAuth = backends.RequireClientCert
	sc.VerifyClient = func(ctx context.Context, chain [][]byte) error { n++; seen = chain; return nil }
	p := e.mustConnect(e.clientWithIdentity(e.pki.client), sc)
	e.exchange(p) // the server finishes reading the client's flight
	if n != 1 || !equalChains(seen, e.pki.client.Chain) {
		e.t.Errorf("VerifyClient called %d times with %d certificates; want once with the client chain", n, len(seen))
	}
	if !equalChains(p.server.State().PeerChain, e.pki.client.Chain) {
		e.t.Errorf("server State: PeerChain is not the client's chain")
	}
	if id := p.client.State().LocalIdentity; id == nil || !bytes.Equal(id.Chain[0], e.pki.client.Chain[0]) {
		e.t.Errorf("client State: LocalIdentity is not the identity sent")
	}
}

func testClientCertOptionalMissing(e *env) {
	n, got := 0, -1
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientAuth = backends.RequestClientCert
	sc.VerifyClient = func(ctx context.Context, chain [][]byte) error { n++; got = len(chain); return nil }
	p := e.mustConnect(e.pki.clientConfig("a.test"), sc)
	e.exchange(p)
	if n != 1 || got != 0 {
		e.t.Errorf("VerifyClient called %d times with %d certificates; want once with none", n, got)
	}
}

func testClientCertRequiredMissing(e *env) {
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientAuth = backends.RequireClientCert
	p := e.connect(e.pki.clientConfig("a.test"), sc)
	if p.serverErr == nil {
		e.t.Fatalf("server accepted a client without a certificate")
	}
	// In TLS 1.3 the client may finish first and see the alert on Read.
	clientErr := p.clientErr
	if clientErr == nil {
		p.clientRaw.SetDeadline(time.Now().Add(handshakeTimeout))
		_, clientErr = p.client.Read(make([]byte, 1))
	}
	if !sawAlert(clientErr, backends.AlertCertificateRequired) {
		e.t.Errorf("client error = %v; want a certificate_required alert (RFC 8446, Section 4.4.2.4)", clientErr)
	}
}

func testClientIdentitySelection(e *env) {
	// The server only accepts the root; the first candidate is from another
	// root, so the backend must skip it (RFC 8446, Section 4.2.4).
	var req *backends.IdentityRequest
	cc := e.clientWithIdentity(e.pki.clientOther, e.pki.client)
	inner := cc.ClientIdentity
	cc.ClientIdentity = func(ctx context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
		req = r
		return inner(ctx, r)
	}
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientAuth = backends.RequireClientCert
	p := e.mustConnect(cc, sc)
	e.exchange(p)
	if req == nil || len(req.AcceptableCAs) == 0 || len(req.SignatureSchemes) == 0 {
		e.t.Errorf("ClientIdentity request = %+v; want the server's CAs and signature schemes", req)
	}
	if req != nil && req.PostHandshake {
		e.t.Errorf("ClientIdentity request marked post-handshake during the handshake")
	}
	if !equalChains(p.server.State().PeerChain, e.pki.client.Chain) {
		e.t.Errorf("client did not send the first candidate the server's request allows")
	}
}

func testNoClientIdentityRequest(e *env) {
	var log calls
	cc := e.pki.clientConfig("a.test")
	cc.NoClientIdentityRequest = func(context.Context) { log.add("no-request") }
	cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		log.add("request")
		return nil, nil
	}
	e.mustConnect(cc, e.pki.serverConfig(e.pki.serverA))
	if got := log.get(); !slices.Equal(got, []string{"no-request"}) {
		e.t.Errorf("server without client auth: hooks %v; want [no-request]", got)
	}
	log = calls{}
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientAuth = backends.RequestClientCert
	p := e.mustConnect(cc, sc)
	e.exchange(p)
	if got := log.get(); !slices.Equal(got, []string{"request"}) {
		e.t.Errorf("server requesting a certificate: hooks %v; want [request]", got)
	}
}

func testClientHelloHook(e *env) {
	var hello *backends.ClientHello
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientHello = func(ctx context.Context, h *backends.ClientHello) (*backends.ServerConfig, error) {
		if hello != nil {
			return nil, errors.New("ClientHello hook called twice")
		}
		hello = h
		repl := e.pki.serverConfig(e.pki.serverA)
		if h.ServerName == "b.test" {
			repl = e.pki.serverConfig(e.pki.serverB)
		}
		if slices.Contains(h.ALPN, "http/1.1") {
			repl.ALPN = []string{"http/1.1"}
		}
		return repl, nil
	}
	cc := e.pki.clientConfig("b.test")
	cc.ALPN = []string{"h2", "http/1.1"}
	p := e.mustConnect(cc, sc)
	if hello == nil {
		e.t.Fatal("ClientHello hook not called")
	}
	if hello.ServerName != "b.test" || !slices.Equal(hello.ALPN, []string{"h2", "http/1.1"}) {
		e.t.Errorf("hook saw server name %q, ALPN %q; want b.test, [h2 http/1.1]", hello.ServerName, hello.ALPN)
	}
	if !slices.Contains(hello.CipherSuites, tls.TLS_AES_128_GCM_SHA256) {
		e.t.Errorf("hook saw cipher suites %#04x; want TLS_AES_128_GCM_SHA256 among them", hello.CipherSuites)
	}
	if !slices.Contains(hello.Versions, tls.VersionTLS13) {
		e.t.Errorf("hook saw versions %#04x; want TLS 1.3 among them", hello.Versions)
	}
	if got := p.client.State().PeerChain; len(got) == 0 || !bytes.Equal(got[0], e.pki.serverB.Chain[0]) {
		e.t.Errorf("the identity returned by the ClientHello hook was not used")
	}
	if c, s := p.client.State().ALPN, p.server.State().ALPN; c != "http/1.1" || s != "http/1.1" {
		e.t.Errorf("ALPN from the ClientHello hook: client %q, server %q; want http/1.1", c, s)
	}
}

func testClientHelloAbort(e *env) {
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientHello = func(context.Context, *backends.ClientHello) (*backends.ServerConfig, error) {
		return nil, &backends.SendAlertError{Alert: backends.AlertUnrecognizedName, Err: errors.New("name not served")}
	}
	p := e.connect(e.pki.clientConfig("a.test"), sc)
	if p.serverErr == nil || !strings.Contains(p.serverErr.Error(), "name not served") {
		e.t.Errorf("server error = %v; want the hook's error", p.serverErr)
	}
	if !sawAlert(p.clientErr, backends.AlertUnrecognizedName) {
		e.t.Errorf("client error = %v; want the unrecognized_name alert the hook asked for", p.clientErr)
	}
	sc.ClientHello = func(context.Context, *backends.ClientHello) (*backends.ServerConfig, error) {
		return nil, backends.ErrAborted
	}
	p = e.connect(e.pki.clientConfig("a.test"), sc)
	if !errors.Is(p.serverErr, backends.ErrAborted) {
		e.t.Errorf("server error = %v; want one wrapping ErrAborted", p.serverErr)
	}
	if !sawAnyAlert(p.clientErr) {
		e.t.Errorf("client error = %v; want an alert after the server aborted", p.clientErr)
	}
}

func testHookOrder(e *env) {
	var client, server calls
	cc := e.pki.clientConfig("a.test")
	cc.VerifyServer = func(context.Context, [][]byte) error { client.add("verify-server"); return nil }
	cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		client.add("client-identity")
		return []*backends.Identity{e.pki.client.Identity()}, nil
	}
	cc.NoClientIdentityRequest = func(context.Context) { client.add("no-client-identity-request") }
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.ClientHello = func(context.Context, *backends.ClientHello) (*backends.ServerConfig, error) {
		server.add("client-hello")
		repl := e.pki.serverConfig(e.pki.serverA)
		repl.ClientAuth = backends.RequireClientCert
		return repl, nil
	}
	sc.VerifyClient = func(context.Context, [][]byte) error { server.add("verify-client"); return nil }
	p := e.mustConnect(cc, sc)
	e.exchange(p)
	p.client.Close()
	p.server.Close()
	if want := []string{"verify-server", "client-identity"}; e.clientIsBackend() && !slices.Equal(client.get(), want) {
		e.t.Errorf("client hooks ran as %v; want %v", client.get(), want)
	}
	if want := []string{"client-hello", "verify-client"}; e.serverIsBackend() && !slices.Equal(server.get(), want) {
		e.t.Errorf("server hooks ran as %v; want %v", server.get(), want)
	}
}

func testCloseNotify(e *env) {
	p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(e.pki.serverA))
	deadline := time.Now().Add(handshakeTimeout)
	p.clientRaw.SetDeadline(deadline)
	p.serverRaw.SetDeadline(deadline)
	if _, err := p.server.Write([]byte("bye")); err != nil {
		e.t.Fatalf("server Write: %v", err)
	}
	if err := p.server.CloseWrite(); err != nil {
		e.t.Fatalf("server CloseWrite: %v", err)
	}
	got, err := io.ReadAll(p.client) // ReadAll stops at io.EOF only
	if err != nil || string(got) != "bye" {
		e.t.Fatalf("client read %q, %v after close_notify; want \"bye\" and io.EOF", got, err)
	}
	// The server's reading side stays open.
	if _, err := p.client.Write([]byte("ack")); err != nil {
		e.t.Fatalf("client Write after the server's close_notify: %v", err)
	}
	if err := p.client.CloseWrite(); err != nil {
		e.t.Fatalf("client CloseWrite: %v", err)
	}
	got, err = io.ReadAll(p.server)
	if err != nil || string(got) != "ack" {
		e.t.Fatalf("server read %q, %v after close_notify; want \"ack\" and io.EOF", got, err)
	}
}

func testTruncation(e *env) {
	p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(e.pki.serverA))
	p.clientRaw.SetDeadline(time.Now().Add(handshakeTimeout))
	if _, err := p.server.Write([]byte("partial")); err != nil {
		e.t.Fatalf("server Write: %v", err)
	}
	p.serverRaw.Close() // no close_notify
	buf := make([]byte, len("partial"))
	if _, err := io.ReadFull(p.client, buf); err != nil {
		e.t.Fatalf("client Read before the truncation: %v", err)
	}
	n, err := p.client.Read(buf)
	if err == nil || err == io.EOF {
		e.t.Errorf("client Read after truncation = %d, %v; want an error other than io.EOF (RFC 8446, Section 6.1)", n, err)
	}
}

func testCancelWaitingForPeer(e *env) {
	for _, side := range []string{"client", "server"} {
		ours, silent := tcpPair(e.t)
		// The peer accepts the connection and never speaks. The context
		// is cancelled once the handshake is in its blocking read of the
		// peer (it entered Read, and on the client side the peer received
		// the ClientHello), never before: cancelling earlier would only
		// test the check at the start of Handshake.
		raw := &readEntered{Conn: ours, entered: make(chan struct{})}
		helloed := make(chan struct{})
		var once sync.Once
		go func() {
			if n, _ := silent.Read(make([]byte, 1)); n > 0 {
				once.Do(func() { close(helloed) })
			}
			io.Copy(io.Discard, silent)
		}()
		var c backends.Conn
		var err error
		if side == "client" {
			c, err = e.b.Client(raw, e.pki.clientConfig("a.test"))
		} else {
			once.Do(func() { close(helloed) }) // a server sends nothing first
			c, err = e.b.Server(raw, e.pki.serverConfig(e.pki.serverA))
		}
		if err != nil {
			e.t.Fatalf("%s: %v", side, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Handshake(ctx) }()
		for _, ch := range []chan struct{}{helloed, raw.entered} {
			select {
			case <-ch:
			case err := <-done:
				e.t.Fatalf("%s Handshake returned before reading the silent peer: %v", side, err)
			case <-time.After(handshakeTimeout):
				e.t.Fatalf("%s Handshake did not read the silent peer", side)
			}
		}
		cancel()
		select {
		case err := <-done:
			if err == nil {
				e.t.Errorf("%s Handshake succeeded after cancellation", side)
			}
		case <-time.After(5 * time.Second):
			e.t.Errorf("%s Handshake still blocked 5s after its context was cancelled", side)
			c.Close()
			<-done
		}
		c.Close()
	}
}

// readEntered is a connection that closes entered when a Read starts.
type readEntered struct {
	net.Conn
	once    sync.Once
	entered chan struct{}
}

func (c *readEntered) Read(p []byte) (int, error) {
	c.once.Do(func() { close(c.entered) })
	return c.Conn.Read(p)
}

func testCancelInHook(e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan struct{})
	cc := e.pki.clientConfig("a.test")
	cc.VerifyServer = func(hctx context.Context, chain [][]byte) error {
		close(entered)
		<-hctx.Done() // the guest never decides
		return hctx.Err()
	}
	cRaw, sRaw := tcpPair(e.t)
	client := e.newClient(cRaw, cc)
	server := e.newServer(sRaw, e.pki.serverConfig(e.pki.serverA))
	defer client.Close()
	defer server.Close()
	sctx, scancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer scancel()
	serr := make(chan error, 1)
	go func() { serr <- server.Handshake(sctx) }()
	cerr := make(chan error, 1)
	go func() { cerr <- client.Handshake(ctx) }()
	select {
	case <-entered:
	case <-time.After(handshakeTimeout):
		e.t.Fatal("VerifyServer hook never called")
	}
	cancel()
	select {
	case err := <-cerr:
		if err == nil {
			e.t.Errorf("client Handshake succeeded after cancellation in a hook")
		}
	case <-time.After(5 * time.Second):
		e.t.Fatal("client Handshake still blocked 5s after cancellation")
	}
	if err := <-serr; err == nil {
		e.t.Errorf("server Handshake succeeded although the client gave up")
	}
}

func testPostHandshakeUnsupported(e *env) {
	p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(e.pki.serverA))
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	_, err := p.server.RequestClientIdentity(ctx)
	if !errors.Is(err, backends.ErrNotSupported) {
		e.t.Errorf("RequestClientIdentity = %v; want an error wrapping ErrNotSupported "+
			"(a backend that does post-handshake client authentication, or wraps one that does, declares Options.PostHandshakeClientAuth)", err)
	}
}

func testPostHandshakeAuth(e *env) {
	var req *backends.IdentityRequest
	cc := e.clientWithIdentity(e.pki.client)
	inner := cc.ClientIdentity
	cc.ClientIdentity = func(ctx context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
		req = r
		return inner(ctx, r)
	}
	p := e.mustConnect(cc, e.pki.serverConfig(e.pki.serverA))
	deadline := time.Now().Add(handshakeTimeout)
	p.clientRaw.SetDeadline(deadline)
	p.serverRaw.SetDeadline(deadline)
	readDone := make(chan error, 1)
	go func() {
		// The client processes the CertificateRequest while reading.
		buf := make([]byte, 4)
		_, err := io.ReadFull(p.client, buf)
		if err == nil && string(buf) != "done" {
			err = errors.New("unexpected data " + string(buf))
		}
		readDone <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	chain, err := p.server.RequestClientIdentity(ctx)
	if err != nil {
		e.t.Fatalf("RequestClientIdentity: %v", err)
	}
	if !equalChains(chain, e.pki.client.Chain) {
		e.t.Errorf("RequestClientIdentity returned %d certificates, not the client's chain", len(chain))
	}
	if _, err := p.server.Write([]byte("done")); err != nil {
		e.t.Fatalf("server Write: %v", err)
	}
	if err := <-readDone; err != nil {
		e.t.Fatalf("client Read: %v", err)
	}
	if req == nil || !req.PostHandshake {
		e.t.Errorf("ClientIdentity request = %+v; want PostHandshake", req)
	}
}

func testParseIdentity(e *env) {
	l := e.pki.serverA
	pemKey, pemChain := l.KeyPEM(), l.ChainPEM()
	for _, tc := range []struct {
		name  string
		key   []byte
		chain [][]byte
	}{
		{"PEM", pemKey, [][]byte{pemChain}},
		{"DER", l.KeyPKCS8(), l.Chain},
		{"Mixed", pemKey, [][]byte{l.Chain[0], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Chain[1]})}},
	} {
		id, err := e.b.ParseIdentity(tc.key, tc.chain)
		if err != nil {
			e.t.Errorf("ParseIdentity(%s): %v", tc.name, err)
			continue
		}
		if !equalChains(id.Chain, l.Chain) {
			e.t.Errorf("ParseIdentity(%s): chain of %d certificates, want %d", tc.name, len(id.Chain), len(l.Chain))
		}
	}
	id, err := e.b.ParseIdentity(pemKey, [][]byte{pemChain})
	if err == nil {
		// The parsed identity serves a handshake.
		sc := &backends.ServerConfig{Options: tls13(), Identities: []*backends.Identity{id}}
		e.mustConnect(e.pki.clientConfig("a.test"), sc)
	}
	for _, tc := range []struct {
		name, mention string
		key           []byte
		chain         [][]byte
	}{
		{"Mismatch", "match", e.pki.serverB.KeyPEM(), [][]byte{pemChain}},
		{"GarbageKey", "", []byte("not a key"), [][]byte{pemChain}},
		{"GarbageChain", "", pemKey, [][]byte{[]byte("not a certificate")}},
		{"EmptyChain", "", pemKey, nil},
		{"EncryptedKey", "encrypted", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), [][]byte{pemChain}},
	} {
		_, err := e.b.ParseIdentity(tc.key, tc.chain)
		if err == nil {
			e.t.Errorf("ParseIdentity(%s) succeeded", tc.name)
		} else if !strings.Contains(err.Error(), tc.mention) {
			e.t.Errorf("ParseIdentity(%s) = %q; want it to mention %q", tc.name, err, tc.mention)
		}
	}
}

func testHelloRetryRequest(e *env) {
	// The client's first key shares are for its preferred groups; a server
	// that only accepts P-256 must ask again (RFC 8446, Section 4.1.4), and
	// the ClientHello hook still runs once.
	n := 0
	sc := e.pki.serverConfig(e.pki.serverA)
	sc.Groups = []uint16{uint16(tls.CurveP256)}
	sc.ClientHello = func(context.Context, *backends.ClientHello) (*backends.ServerConfig, error) {
		n++
		return nil, nil
	}
	cc := e.pki.clientConfig("a.test")
	cc.Groups = []uint16{uint16(tls.X25519), uint16(tls.CurveP256)}
	p := e.mustConnect(cc, sc)
	e.exchange(p)
	if c, s := p.client.State().Group, p.server.State().Group; c != uint16(tls.CurveP256) || s != uint16(tls.CurveP256) {
		e.t.Errorf("Group after HelloRetryRequest: client %#04x, server %#04x; want P-256 (0x0017)", c, s)
	}
	if e.serverIsBackend() && n != 1 {
		e.t.Errorf("ClientHello hook ran %d times across a HelloRetryRequest; want once", n)
	}
}

func testValidationTime(e *env) {
	// Options.Time is the clock of certificate validation: at a time inside
	// its validity, the expired certificate passes.
	cc := e.pki.clientConfig("a.test")
	past := e.pki.expired.Cert.NotBefore.Add(time.Minute)
	cc.Time = func() time.Time { return past }
	e.mustConnect(cc, e.pki.serverConfig(e.pki.expired))
}
