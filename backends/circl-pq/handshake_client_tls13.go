package circlpq

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"net"
	"strings"

	"github.com/wasitls/wasitls/backends"
)

// clientHandshakeState is one client handshake. handshake runs its steps in
// protocol order (RFC 8446, Section 2):
//
//	ClientHello -> [HelloRetryRequest -> ClientHello] -> ServerHello
//	-> {EncryptedExtensions} {CertificateRequest*} {Certificate}
//	   {CertificateVerify} {Finished}
//	-> {Certificate*} {CertificateVerify*} {Finished}
type clientHandshakeState struct {
	c      *Conn
	ctx    context.Context
	config *backends.ClientConfig

	hello      *clientHelloMsg
	keyShares  []clientKeyShare
	hrrGroup   uint16 // group the HelloRetryRequest selected; 0 without one
	hrrSuite   uint16
	sentCCS    bool
	suite      *cipherSuite
	transcript hash.Hash
	group      uint16

	handshakeSecret       []byte
	clientHandshakeSecret []byte
	serverHandshakeSecret []byte
	masterSecret          []byte
	clientAppSecret       []byte
	certReq               *certificateRequestMsg
	peerChain             [][]byte

	session *clientSession // the session offered for resumption, if any
	psk     []byte         // the PSK the server accepted, if any
}

type clientKeyShare struct {
	group uint16
	dec   decapsulator
}

func (c *Conn) clientHandshake(ctx context.Context) error {
	hs := &clientHandshakeState{c: c, ctx: ctx, config: c.clientConfig}
	return hs.handshake()
}

func (hs *clientHandshakeState) handshake() error {
	c := hs.c
	// Without a name there is nothing to check the certificate against.
	if hs.config.ServerName == "" && !hs.config.InsecureSkipVerify {
		return errors.New("tls: either ServerName or InsecureSkipVerify must be set")
	}
	if err := hs.makeClientHello(); err != nil {
		return err
	}
	// The transcript starts with the ClientHello as sent.
	var sent bytes.Buffer
	if err := c.writeHandshake(hs.hello.raw, &sent); err != nil {
		return err
	}
	hs.hello.raw = sent.Bytes()
	c.sawHello = true
	if err := c.flushLocked(); err != nil {
		return err
	}
	sh, err := hs.readServerHello()
	if err != nil {
		return err
	}
	if sh.isHelloRetryRequest() {
		if err := hs.processHelloRetryRequest(sh); err != nil {
			return err
		}
		if sh, err = hs.readServerHello(); err != nil {
			return err
		}
		if sh.isHelloRetryRequest() {
			// RFC 8446, Section 4.1.4: a second HelloRetryRequest is
			// unexpected_message.
			return c.fail(alertUnexpectedMessage, "tls: server sent two HelloRetryRequest messages")
		}
	}
	if err := hs.processServerHello(sh); err != nil {
		return err
	}
	for _, step := range []func() error{
		hs.establishHandshakeKeys,
		hs.readServerParameters,
		hs.readServerCertificate,
		hs.readServerFinished,
		hs.sendClientCertificate,
		hs.sendClientFinished,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// makeClientHello builds the first ClientHello with key shares for the
// first KeyShares groups of the configured list.
func (hs *clientHandshakeState) makeClientHello() error {
	c, cfg := hs.c, hs.config
	groups := groupsOf(&cfg.Options)
	suites := usableSuites(cfg.CipherSuites)
	n := cfg.KeyShares
	if n == 0 {
		n = defaultKeyShares
	}
	n = min(n, len(groups))
	hello := &clientHelloMsg{
		vers:               versionTLS12, // legacy_version (RFC 8446, Section 4.1.2)
		random:             make([]byte, 32),
		sessionID:          make([]byte, 32),
		cipherSuites:       suites,
		compressionMethods: []uint8{0},
		supportedGroups:    groups,
		signatureSchemes:   c.verifySchemes(),
		alpnProtocols:      cfg.ALPN,
		supportedVersions:  []uint16{versionTLS13},
		hasKeyShares:       true,
		// A client with an identity hook can answer post-handshake
		// certificate requests (RFC 8446, Section 4.2.6).
		postHandshakeAuth: cfg.ClientIdentity != nil,
		// A stapled OCSP response is reported, not checked
		// (State.OCSPResponse), as crypto/tls does.
		ocspStapling: true,
	}
	hello.serverName = hostnameInSNI(cfg.ServerName)
	if _, err := rand.Read(hello.random); err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	// A non-empty legacy_session_id selects middlebox compatibility mode
	// (RFC 8446, Appendix D.4).
	if _, err := rand.Read(hello.sessionID); err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	for _, g := range groups[:n] {
		ks, err := hs.generateKeyShare(g)
		if err != nil {
			return err
		}
		hello.keyShares = append(hello.keyShares, ks)
	}
	// The application's ALPN IDs may fill the extensions' 65,535 bytes
	// on their own, or take more than an ID's 255 bytes, and its server
	// name more than its 65,535 (crypto/tls refuses such a configuration
	// too).
	// A client with a session cache takes the tickets it is sent
	// (offerSession, storeTicket).
	if c.sessionCache != nil {
		hello.pskModes = []uint8{pskModeDHE}
	}
	// The encoding is kept in raw for the handshake to send.
	raw, err := hello.encode()
	if err != nil {
		return fmt.Errorf("%w (too many or too long ALPN protocols, or too long a server name?)", err)
	}
	hello.raw = raw
	hs.hello = hello
	hs.offerSession()
	hs.setBinder(nil)
	return nil
}

func (hs *clientHandshakeState) generateKeyShare(group uint16) (keyShare, error) {
	kx := keyExchangeByID(group)
	dec, ek, err := kx.generate()
	if err != nil {
		return keyShare{}, hs.c.fail(alertInternalError, "tls: %s key generation: %v", groupName(group), err)
	}
	hs.keyShares = append(hs.keyShares, clientKeyShare{group, dec})
	return keyShare{group: group, data: ek}, nil
}

func (hs *clientHandshakeState) readServerHello() (*serverHelloMsg, error) {
	c := hs.c
	msg, err := c.readHandshake()
	if err != nil {
		return nil, err
	}
	if msg[0] != typeServerHello {
		return nil, c.fail(alertUnexpectedMessage, "tls: expected ServerHello, got message type %d", msg[0])
	}
	sh := new(serverHelloMsg)
	if !sh.unmarshal(msg) {
		return nil, c.fail(alertDecodeError, "tls: malformed ServerHello")
	}
	if err := hs.checkServerHelloCommon(sh); err != nil {
		return nil, err
	}
	return sh, nil
}

// checkServerHelloCommon applies the checks shared by ServerHello and
// HelloRetryRequest (RFC 8446, Section 4.1.3 and 4.1.4).
func (hs *clientHandshakeState) checkServerHelloCommon(sh *serverHelloMsg) error {
	c := hs.c
	if sh.supportedVersion == 0 {
		// A TLS 1.2 (or older) ServerHello. RFC 8446, Section 4.1.3: a
		// TLS 1.3 client that sees the downgrade sentinel aborts with
		// illegal_parameter; otherwise the version is simply refused.
		tail := string(sh.random[24:])
		if tail == downgradeCanaryTLS12 || tail == downgradeCanaryTLS11 {
			return c.fail(alertIllegalParameter, "tls: downgrade attempt detected (server random carries the TLS 1.2 sentinel)")
		}
		return c.fail(alertProtocolVersion, "tls: server selected TLS version 0x%04x; only TLS 1.3 is supported", sh.vers)
	}
	// RFC 8446, Section 4.2.1: a version not offered is illegal_parameter.
	if sh.supportedVersion != versionTLS13 {
		return c.fail(alertIllegalParameter, "tls: server selected unoffered version 0x%04x", sh.supportedVersion)
	}
	if sh.vers != versionTLS12 {
		return c.fail(alertIllegalParameter, "tls: invalid ServerHello legacy_version 0x%04x", sh.vers)
	}
	// RFC 8446, Section 4.2: an extension the client did not offer is
	// unsupported_extension.
	if sh.hasUnknown {
		return c.fail(alertUnsupportedExtension, "tls: server sent unsolicited extension %d", sh.unknown)
	}
	// RFC 8446, Section 4.1.3: the session ID is echoed, the suite was
	// offered, and compression is null.
	if !hmac.Equal(sh.sessionID, hs.hello.sessionID) {
		return c.fail(alertIllegalParameter, "tls: server did not echo the legacy session ID")
	}
	if sh.compressionMethod != 0 {
		return c.fail(alertIllegalParameter, "tls: server selected a compression method")
	}
	if !contains(hs.hello.cipherSuites, sh.cipherSuite) {
		return c.fail(alertIllegalParameter, "tls: server selected an unoffered cipher suite 0x%04x", sh.cipherSuite)
	}
	if hs.hrrSuite != 0 && sh.cipherSuite != hs.hrrSuite {
		// RFC 8446, Section 4.1.4.
		return c.fail(alertIllegalParameter, "tls: ServerHello cipher suite differs from the HelloRetryRequest's")
	}
	if sh.hasPreSharedKey && (hs.session == nil || sh.isHelloRetryRequest()) {
		return c.fail(alertUnsupportedExtension, "tls: server selected a PSK that was never offered")
	}
	return nil
}

// startTranscript creates the transcript once the suite is known.
func (hs *clientHandshakeState) startTranscript(suiteID uint16) {
	hs.suite = cipherSuiteByID(suiteID)
	hs.transcript = hs.suite.newHash()
	hs.transcript.Write(hs.hello.raw)
}

// processHelloRetryRequest answers a HelloRetryRequest with a second
// ClientHello (RFC 8446, Section 4.1.4).
func (hs *clientHandshakeState) processHelloRetryRequest(hrr *serverHelloMsg) error {
	c := hs.c
	// The server waits for the second ClientHello: handshake bytes after
	// the HelloRetryRequest are premature.
	if len(c.hand) > 0 {
		return c.fail(alertUnexpectedMessage, "tls: handshake data after the HelloRetryRequest")
	}
	hs.startTranscript(hrr.cipherSuite)
	hs.hrrSuite = hrr.cipherSuite
	c.didHRR = true
	// The transcript restarts with message_hash(ClientHello1)
	// (RFC 8446, Section 4.4.1).
	ch1 := hs.transcript.Sum(nil)
	hs.transcript.Reset()
	hs.transcript.Write([]byte{typeMessageHash, 0, 0, uint8(len(ch1))})
	hs.transcript.Write(ch1)
	hs.transcript.Write(hrr.raw)

	if hrr.selectedGroup == 0 && len(hrr.cookie) == 0 {
		return c.fail(alertIllegalParameter, "tls: HelloRetryRequest would not change the ClientHello")
	}
	hello := *hs.hello
	hello.cookie = hrr.cookie
	if g := hrr.selectedGroup; g != 0 {
		// RFC 8446, Section 4.2.8: the group must have been offered, and
		// not already have a share.
		if !contains(hs.hello.supportedGroups, g) {
			return c.fail(alertIllegalParameter, "tls: HelloRetryRequest selected unoffered group %s", groupName(g))
		}
		for _, ks := range hs.hello.keyShares {
			if ks.group == g {
				return c.fail(alertIllegalParameter, "tls: HelloRetryRequest selected group %s that already had a key share", groupName(g))
			}
		}
		hs.keyShares = nil
		ks, err := hs.generateKeyShare(g)
		if err != nil {
			return err
		}
		hello.keyShares = []keyShare{ks}
		hs.hrrGroup = g
	}
	hs.hello = &hello
	// RFC 8446, Section 4.1.2: the PSK is dropped if the server's suite
	// cannot use it, and its binder recomputed over the new transcript.
	if hs.session != nil && cipherSuiteByID(hs.session.suite).hash != hs.suite.hash {
		hs.session = nil
		hello.pskIdentities, hello.pskBinders = nil, nil
	}
	// RFC 8446 lets the cookie take up to 65,535 bytes, which the second
	// ClientHello's extensions must hold beside the rest: one that does
	// not fit ends the handshake (crypto/tls fails it too).
	raw, err := hello.encode()
	if err != nil {
		return c.fail(alertInternalError, "tls: the HelloRetryRequest's cookie (%d bytes) does not fit in a ClientHello: %v", len(hrr.cookie), err)
	}
	hello.raw = raw
	if hs.session != nil {
		prefix, err := cloneHash(hs.transcript)
		if err != nil {
			return c.fail(alertInternalError, "%v", err)
		}
		// The binder hash continues the transcript, so the prefix is
		// given as the state itself.
		hs.setBinderFrom(prefix)
	}
	// Compatibility mode: a change_cipher_spec precedes the second flight
	// (RFC 8446, Appendix D.4).
	if err := c.writeChangeCipherSpec(); err != nil {
		return err
	}
	hs.sentCCS = true
	if err := c.writeHandshake(hs.hello.raw, hs.transcript); err != nil {
		return err
	}
	return c.flushLocked()
}

func (hs *clientHandshakeState) processServerHello(sh *serverHelloMsg) error {
	c := hs.c
	if hs.transcript == nil {
		hs.startTranscript(sh.cipherSuite)
	}
	hs.transcript.Write(sh.raw)
	if len(sh.cookie) > 0 {
		return c.fail(alertUnsupportedExtension, "tls: server sent a cookie in a ServerHello")
	}
	if sh.serverShare.group == 0 {
		return c.fail(alertMissingExtension, "tls: server did not send a key share")
	}
	if sh.hasPreSharedKey {
		// RFC 8446, Section 4.2.11: the server may only select an offered
		// PSK whose hash matches the suite.
		if hs.session == nil || sh.selectedIdentity != 0 || cipherSuiteByID(hs.session.suite).hash != hs.suite.hash {
			return c.fail(alertIllegalParameter, "tls: server selected an invalid PSK")
		}
		hs.psk = hs.session.psk
	}
	if hs.hrrGroup != 0 && sh.serverShare.group != hs.hrrGroup {
		return c.fail(alertIllegalParameter, "tls: server key share group differs from the HelloRetryRequest's")
	}
	var dec decapsulator
	for _, ks := range hs.keyShares {
		if ks.group == sh.serverShare.group {
			dec = ks.dec
		}
	}
	if dec == nil {
		// RFC 8446, Section 4.2.8: the share must be for an offered group.
		return c.fail(alertIllegalParameter, "tls: server key share for group %s that had no client share", groupName(sh.serverShare.group))
	}
	shared, err := dec.decapsulate(sh.serverShare.data)
	if err != nil {
		return c.fail(alertIllegalParameter, "tls: invalid server key share for %s", groupName(sh.serverShare.group))
	}
	hs.group = sh.serverShare.group
	hs.handshakeSecret = hs.suite.handshakeSecretPSK(hs.psk, shared)
	c.updateState(func(s *backends.State) {
		s.Version = versionTLS13
		s.CipherSuite = sh.cipherSuite
		s.Group = hs.group
		s.ServerName = hs.config.ServerName
	})
	return nil
}

func (hs *clientHandshakeState) establishHandshakeKeys() error {
	c := hs.c
	hs.clientHandshakeSecret = hs.suite.deriveSecret(hs.handshakeSecret, labelClientHandshake, hs.transcript)
	hs.serverHandshakeSecret = hs.suite.deriveSecret(hs.handshakeSecret, labelServerHandshake, hs.transcript)
	c.logKey(keyLogClientHandshake, hs.hello.random, hs.clientHandshakeSecret)
	c.logKey(keyLogServerHandshake, hs.hello.random, hs.serverHandshakeSecret)
	if err := c.setReadSecret(hs.suite, hs.serverHandshakeSecret); err != nil {
		return err
	}
	if !hs.sentCCS {
		if err := c.writeChangeCipherSpec(); err != nil {
			return err
		}
		hs.sentCCS = true
	}
	c.out.Lock()
	err := c.out.setTrafficSecret(hs.suite, hs.clientHandshakeSecret)
	c.out.Unlock()
	if err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	return nil
}

func (hs *clientHandshakeState) readMessage(typ uint8, name string) ([]byte, error) {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return nil, err
	}
	if msg[0] != typ {
		return nil, hs.c.fail(alertUnexpectedMessage, "tls: expected %s, got message type %d", name, msg[0])
	}
	return msg, nil
}

func (hs *clientHandshakeState) readServerParameters() error {
	c := hs.c
	msg, err := hs.readMessage(typeEncryptedExtensions, "EncryptedExtensions")
	if err != nil {
		return err
	}
	var ee encryptedExtensionsMsg
	if !ee.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed EncryptedExtensions")
	}
	hs.transcript.Write(msg)
	// RFC 8446, Section 4.2: extensions the client did not offer are
	// unsupported_extension.
	if ee.unsolicited || ee.earlyData || ee.serverNameAck && hs.hello.serverName == "" {
		return c.fail(alertUnsupportedExtension, "tls: server sent unsolicited extensions")
	}
	if ee.alpnProtocol != "" {
		// RFC 7301, Section 3.2: the protocol must be one offered.
		if !contains(hs.hello.alpnProtocols, ee.alpnProtocol) {
			return c.fail(alertUnsupportedExtension, "tls: server selected an unoffered ALPN protocol")
		}
		c.updateState(func(s *backends.State) { s.ALPN = ee.alpnProtocol })
	}
	return nil
}

func (hs *clientHandshakeState) readServerCertificate() error {
	c := hs.c
	if hs.psk != nil {
		// The PSK authenticates the server; the chain is the session's
		// (RFC 8446, Section 2.2). A CertificateRequest or Certificate now
		// is an unexpected message for readServerFinished.
		hs.peerChain = hs.session.peerChain
		c.updateState(func(s *backends.State) {
			s.PeerChain, s.OCSPResponse, s.DidResume = hs.session.peerChain, hs.session.ocspResponse, true
		})
		// The application's check runs on a resumption too, with the
		// chain the session was authenticated with, as crypto/tls's
		// VerifyConnection does.
		if hs.config.VerifyServer != nil {
			if err := hs.config.VerifyServer(hs.ctx, hs.session.peerChain); err != nil {
				return c.fail(hookAlert(err, alertBadCertificate), "tls: server certificate rejected by the application: %w", err)
			}
		}
		return nil
	}
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] == typeCertificateRequest {
		cr := new(certificateRequestMsg)
		if !cr.unmarshal(msg) {
			return c.fail(alertDecodeError, "tls: malformed CertificateRequest")
		}
		// RFC 8446, Section 4.3.2: the extension is mandatory and the
		// context empty during the handshake.
		if len(cr.signatureSchemes) == 0 {
			return c.fail(alertMissingExtension, "tls: CertificateRequest without signature_algorithms")
		}
		if len(cr.context) != 0 {
			return c.fail(alertIllegalParameter, "tls: CertificateRequest with a context during the handshake")
		}
		hs.transcript.Write(msg)
		hs.certReq = cr
		if msg, err = c.readHandshake(); err != nil {
			return err
		}
	}
	if msg[0] != typeCertificate {
		return c.fail(alertUnexpectedMessage, "tls: expected Certificate, got message type %d", msg[0])
	}
	var cm certificateMsg
	if !cm.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed Certificate")
	}
	// RFC 8446, Section 4.4.2.4: an empty server Certificate is
	// decode_error.
	if len(cm.chain) == 0 {
		return c.fail(alertDecodeError, "tls: server sent no certificate")
	}
	if len(cm.context) != 0 {
		return c.fail(alertIllegalParameter, "tls: server Certificate with a request context")
	}
	if cm.entryExtensions || cm.ocspStaple != nil && !hs.hello.ocspStapling {
		return c.fail(alertUnsupportedExtension, "tls: server sent unsolicited certificate extensions")
	}
	hs.transcript.Write(msg)
	certs, err := parseChain(cm.chain, hs.config.RSAKeyBitsLimit())
	if err != nil {
		return c.fail(alertBadCertificate, "%v", err)
	}
	peerKey, err := leafSigningKey(certs[0])
	if err != nil {
		return c.fail(leafKeyAlert(err), "%v", err)
	}
	if !hs.config.InsecureSkipVerify {
		if err := verifyChain(certs, hs.config.RootCAs, hs.config.ServerName, x509.ExtKeyUsageServerAuth, hs.config.Time); err != nil {
			return c.fail(certificateAlert(err), "tls: failed to verify the server certificate: %w", err)
		}
	}
	hs.peerChain = cm.chain
	c.updateState(func(s *backends.State) { s.PeerChain, s.OCSPResponse = cm.chain, cm.ocspStaple })

	msg, err = hs.readMessage(typeCertificateVerify, "CertificateVerify")
	if err != nil {
		return err
	}
	if err := c.readCertificateVerify(msg, peerKey, "server", hs.transcript); err != nil {
		return err
	}

	// The application's own check comes after default validation and
	// after the server proved possession of the key.
	if hs.config.VerifyServer != nil {
		if err := hs.config.VerifyServer(hs.ctx, cm.chain); err != nil {
			return c.fail(hookAlert(err, alertBadCertificate), "tls: server certificate rejected by the application: %w", err)
		}
	}
	return nil
}

func (hs *clientHandshakeState) readServerFinished() error {
	c := hs.c
	msg, err := hs.readMessage(typeFinished, "Finished")
	if err != nil {
		return err
	}
	var fin finishedMsg
	if !fin.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed Finished")
	}
	// RFC 8446, Section 4.4.4: a wrong verify_data is decrypt_error.
	want := hs.suite.finishedHash(hs.serverHandshakeSecret, hs.transcript)
	if !hmac.Equal(want, fin.verifyData) {
		return c.fail(alertDecryptError, "tls: invalid server Finished")
	}
	hs.transcript.Write(msg)

	hs.masterSecret = hs.suite.masterSecret(hs.handshakeSecret)
	serverSecret := hs.suite.deriveSecret(hs.masterSecret, labelServerApplication, hs.transcript)
	c.exporterSecret = hs.suite.deriveSecret(hs.masterSecret, labelExporter, hs.transcript)
	c.suite = hs.suite
	// The client application secret also hashes up to the server
	// Finished; it is installed after the client's Finished.
	hs.clientAppSecret = hs.suite.deriveSecret(hs.masterSecret, labelClientApplication, hs.transcript)
	c.logKey(keyLogClientTraffic, hs.hello.random, hs.clientAppSecret)
	c.logKey(keyLogServerTraffic, hs.hello.random, serverSecret)
	c.logKey(keyLogExporter, hs.hello.random, c.exporterSecret)
	return c.setReadSecret(hs.suite, serverSecret)
}

func (hs *clientHandshakeState) sendClientCertificate() error {
	c := hs.c
	if hs.certReq == nil {
		if hs.config.NoClientIdentityRequest != nil {
			hs.config.NoClientIdentityRequest(hs.ctx)
		}
		return nil
	}
	var ident *backends.Identity
	var scheme uint16
	if hs.config.ClientIdentity != nil {
		req := &backends.IdentityRequest{
			SignatureSchemes: hs.certReq.signatureSchemes,
			AcceptableCAs:    hs.certReq.certificateAuthorities,
		}
		candidates, err := hs.config.ClientIdentity(hs.ctx, req)
		if err != nil {
			return c.fail(hookAlert(err, alertHandshakeFailure), "tls: client identity selection failed: %w", err)
		}
		ident, scheme = pickIdentity(candidates, c.signingSchemes(hs.certReq.signatureSchemes), "", hs.certReq.certificateAuthorities)
	}
	cm := &certificateMsg{context: hs.certReq.context}
	if ident != nil {
		cm.chain = ident.Chain
	}
	msg, err := c.certificateMessage(cm)
	if err != nil {
		return err
	}
	if err := c.writeHandshake(msg, hs.transcript); err != nil {
		return err
	}
	if ident == nil {
		return nil
	}
	sig, err := signHandshake(ident.Key, scheme, clientSignatureContext, hs.transcript)
	if err != nil {
		return c.fail(alertInternalError, "tls: client signature failed: %v", err)
	}
	cv := &certificateVerifyMsg{scheme: scheme, signature: sig}
	if err := c.writeMessage(cv, hs.transcript); err != nil {
		return err
	}
	c.updateState(func(s *backends.State) { s.LocalIdentity = ident })
	return nil
}

func (hs *clientHandshakeState) sendClientFinished() error {
	c := hs.c
	fin := &finishedMsg{verifyData: hs.suite.finishedHash(hs.clientHandshakeSecret, hs.transcript)}
	if err := c.writeMessage(fin, hs.transcript); err != nil {
		return err
	}
	c.auth.setHandshakeTranscript(hs.hello.postHandshakeAuth, hs.transcript)
	if c.sessionCache != nil {
		c.resumptionSecret = hs.suite.deriveSecret(hs.masterSecret, labelResumption, hs.transcript)
	}
	c.out.Lock()
	err := c.out.setTrafficSecret(hs.suite, hs.clientAppSecret)
	c.out.Unlock()
	if err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	return nil
}

// pickIdentity returns the first identity whose key can sign with a scheme
// the peer accepts, preferring one whose leaf matches serverName when it is
// set. With a non-empty list of acceptable CAs (RFC 8446, Section 4.2.4)
// only chains that name one of them, as subject or issuer, qualify. An
// identity the list names more than once is looked at once.
func pickIdentity(ids []*backends.Identity, peerSchemes []uint16, serverName string, cas [][]byte) (*backends.Identity, uint16) {
	var fallback *backends.Identity
	var fallbackScheme uint16
	var names backends.NameSet
	if len(cas) > 0 {
		names = backends.NewNameSet(cas)
	}
	for _, id := range backends.Distinct(ids) {
		if id == nil || id.Key == nil || len(id.Chain) == 0 {
			continue
		}
		scheme, ok := selectSignatureScheme(id.Key.Public(), peerSchemes)
		if !ok || names != nil && !id.NamesOneOf(names) {
			continue
		}
		if serverName == "" || id.Leaf != nil && id.Leaf.VerifyHostname(serverName) == nil {
			return id, scheme
		}
		if fallback == nil {
			fallback, fallbackScheme = id, scheme
		}
	}
	return fallback, fallbackScheme
}

// hostnameInSNI is the server_name a client sends for name, as crypto/tls
// has it (RFC 6066, Section 3): none for an address literal, bracketed or
// with a zone too, and a name without its trailing dots (crypto/tls
// servers refuse a ClientHello whose name has one, as malformed; before,
// a client given "example.com." failed every handshake with them, and
// sent "[::1]" as a name). The certificate is still checked against
// name as given.
func hostnameInSNI(name string) string {
	host := name
	if len(host) > 0 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if i := strings.LastIndex(host, "%"); i > 0 {
		host = host[:i]
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	return strings.TrimRight(name, ".")
}
