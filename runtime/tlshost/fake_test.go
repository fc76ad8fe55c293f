package tlshost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/wasitls/wasitls/backends"
)

// fakeBackend is a scripted callback-style backend: it calls the hooks in
// handshake order, as a real one would, without any cryptography, and logs
// what it "sends" so tests can check that nothing flows while a handshake is
// suspended.
type fakeBackend struct {
	serverChain [][]byte
	clientChain [][]byte
	certRequest bool // the server requests a client certificate
	// requestFirst: ClientIdentity comes before VerifyServer, as
	// TLS 1.3's CertificateRequest precedes the server's Certificate.
	requestFirst bool
	failAt       string // "verify": the peer's certificate fails default validation
	silentPeer   bool   // the peer never answers: Handshake blocks on I/O
	hello        *backends.ClientHello
	postErr      error

	mu       sync.Mutex
	events   []string
	conns    []*fakeConn
	replaced []bool // per server handshake: the ClientHello hook returned a replacement
}

func (b *fakeBackend) Name() string { return "fake" }

func (b *fakeBackend) log(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, fmt.Sprintf(format, args...))
}

func (b *fakeBackend) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

func (b *fakeBackend) ParseIdentity(key []byte, chain [][]byte) (*backends.Identity, error) {
	if string(key) != "key" {
		return nil, errors.New("fake: bad key")
	}
	return &backends.Identity{Chain: cloneChain(chain)}, nil
}

func (b *fakeBackend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	c := &fakeConn{b: b, transport: transport, ccfg: cfg}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	return c, nil
}

func (b *fakeBackend) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	c := &fakeConn{b: b, transport: transport, scfg: cfg}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	return c, nil
}

type fakeConn struct {
	b         *fakeBackend
	transport net.Conn
	ccfg      *backends.ClientConfig
	scfg      *backends.ServerConfig

	mu    sync.Mutex
	state backends.State
}

func (c *fakeConn) fail(err error) error {
	alert := backends.AlertHandshakeFailure
	if errors.Is(err, backends.ErrAborted) {
		alert = backends.AlertUserCanceled
	}
	var ae *backends.SendAlertError
	if errors.As(err, &ae) {
		alert = ae.Alert
	}
	c.b.log("alert %d", alert)
	return err
}

func (c *fakeConn) Handshake(ctx context.Context) error {
	if c.ccfg != nil {
		return c.clientHandshake(ctx)
	}
	return c.serverHandshake(ctx)
}

func (c *fakeConn) waitPeer(ctx context.Context) error {
	if c.b.silentPeer {
		c.b.log("waiting for peer")
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (c *fakeConn) clientHandshake(ctx context.Context) error {
	cfg := c.ccfg
	c.b.log("client hello sni=%s alpn=%v groups=%v", cfg.ServerName, cfg.ALPN, cfg.Groups)
	if err := c.waitPeer(ctx); err != nil {
		return err
	}
	if c.b.failAt == "verify" {
		return c.fail(&backends.SendAlertError{Alert: backends.AlertUnknownCA, Err: errors.New("tls: certificate signed by unknown authority")})
	}
	request := func() error {
		ids, err := cfg.ClientIdentity(ctx, &backends.IdentityRequest{SignatureSchemes: []uint16{0x0804}})
		if err != nil {
			return c.fail(err)
		}
		c.b.log("client certificates %d", len(ids))
		if len(ids) > 0 {
			c.mu.Lock()
			c.state.LocalIdentity = ids[0]
			c.mu.Unlock()
		}
		return nil
	}
	if c.b.certRequest && c.b.requestFirst {
		if err := request(); err != nil {
			return err
		}
	}
	if err := cfg.VerifyServer(ctx, c.b.serverChain); err != nil {
		return c.fail(err)
	}
	c.b.log("server verified")
	if c.b.certRequest && !c.b.requestFirst {
		if err := request(); err != nil {
			return err
		}
	} else if !c.b.certRequest && cfg.NoClientIdentityRequest != nil {
		cfg.NoClientIdentityRequest(ctx)
	}
	c.b.log("client finished")
	c.mu.Lock()
	c.state.HandshakeComplete = true
	c.state.Version, c.state.CipherSuite, c.state.Group = 0x0304, 0x1301, 0x11ec
	c.state.ServerName = cfg.ServerName
	c.state.PeerChain = c.b.serverChain
	if len(cfg.ALPN) > 0 {
		c.state.ALPN = cfg.ALPN[0]
	}
	c.mu.Unlock()
	return nil
}

func (c *fakeConn) serverHandshake(ctx context.Context) error {
	cfg := c.scfg
	if err := c.waitPeer(ctx); err != nil {
		return err
	}
	hello := c.b.hello
	if hello == nil {
		hello = &backends.ClientHello{ServerName: "example.com", ALPN: []string{"h2", "http/1.1"}, CipherSuites: []uint16{0x1301}}
	}
	c.b.log("got client hello")
	next, err := cfg.ClientHello(ctx, hello)
	if err != nil {
		return c.fail(err)
	}
	c.b.mu.Lock()
	c.b.replaced = append(c.b.replaced, next != nil)
	c.b.mu.Unlock()
	eff := cfg
	if next != nil {
		eff = next
	}
	if len(eff.Identities) == 0 {
		return c.fail(errors.New("tls: no certificates configured"))
	}
	c.b.log("server hello alpn=%v ids=%d auth=%d", eff.ALPN, len(eff.Identities), eff.ClientAuth)
	if eff.ClientAuth != backends.NoClientCert {
		if err := cfg.VerifyClient(ctx, c.b.clientChain); err != nil {
			return c.fail(err)
		}
		c.b.log("client verified")
	}
	c.mu.Lock()
	c.state.HandshakeComplete = true
	c.state.Version, c.state.CipherSuite = 0x0304, 0x1301
	c.state.ServerName = hello.ServerName
	c.state.LocalIdentity = eff.Identities[0]
	c.state.PeerChain = c.b.clientChain
	if len(eff.ALPN) > 0 {
		c.state.ALPN = eff.ALPN[0]
	}
	c.mu.Unlock()
	c.b.log("server finished")
	return nil
}

func (c *fakeConn) Read(p []byte) (int, error)  { return c.transport.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error) { return c.transport.Write(p) }
func (c *fakeConn) CloseWrite() error           { c.b.log("close_notify"); return nil }
func (c *fakeConn) Close() error                { return c.transport.Close() }

func (c *fakeConn) State() backends.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *fakeConn) RequestClientIdentity(ctx context.Context) ([][]byte, error) {
	if c.b.postErr != nil {
		return nil, c.b.postErr
	}
	if err := c.scfg.VerifyClient(ctx, c.b.clientChain); err != nil {
		return nil, err
	}
	return c.b.clientChain, nil
}
