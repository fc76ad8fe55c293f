package circlpq

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/x509"
	"hash"
	"io"
	"slices"

	"github.com/wasitls/wasitls/backends"
)

// serverHandshakeState is one server handshake. handshake runs its steps in
// protocol order (RFC 8446, Section 2):
//
//	ClientHello -> [HelloRetryRequest <- ClientHello]
//	-> ServerHello {EncryptedExtensions} {CertificateRequest*}
//	   {Certificate} {CertificateVerify} {Finished}
//	<- {Certificate*} {CertificateVerify*} {Finished}
//
// The ClientHello hook runs once, on the first ClientHello; the
// configuration it returns governs the rest of the handshake, while the
// hooks stay those of the original configuration.
type serverHandshakeState struct {
	c      *Conn
	ctx    context.Context
	hooks  *backends.ServerConfig // the configuration the hooks come from
	config *backends.ServerConfig // the configuration in force

	hello       *clientHelloMsg
	suite       *cipherSuite
	group       uint16
	clientShare []byte
	sentHRR     bool
	transcript  hash.Hash
	alpn        string
	identity    *backends.Identity
	sigScheme   uint16

	psk         []byte        // resumption PSK, nil for a full handshake
	ticketAEADs []cipher.AEAD // the ticket keys' AEADs, newest first; nil: no tickets
	pskIndex    uint16
	hrrPrefix   []byte // message_hash(ClientHello1) || HelloRetryRequest

	handshakeSecret       []byte
	clientHandshakeSecret []byte
	serverHandshakeSecret []byte
	clientAppSecret       []byte
	certReqContext        []byte
}

func (c *Conn) serverHandshake(ctx context.Context) error {
	hs := &serverHandshakeState{c: c, ctx: ctx, hooks: c.serverConfig, config: c.serverConfig}
	return hs.handshake()
}

func (hs *serverHandshakeState) handshake() error {
	for _, step := range []func() error{
		hs.readClientHello,
		hs.processClientHello,
		hs.sendServerParameters,
		hs.sendServerCertificate,
		hs.sendServerFinished,
		hs.readClientCertificate,
		hs.readClientFinished,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (hs *serverHandshakeState) readClientHelloMsg() (*clientHelloMsg, error) {
	c := hs.c
	msg, err := c.readHandshake()
	if err != nil {
		return nil, err
	}
	if msg[0] != typeClientHello {
		return nil, c.fail(alertUnexpectedMessage, "tls: expected ClientHello, got message type %d", msg[0])
	}
	ch := new(clientHelloMsg)
	if !ch.unmarshal(msg) {
		return nil, c.fail(alertDecodeError, "tls: malformed ClientHello")
	}
	c.sawHello = true
	// RFC 8446, Section 4.2.11: pre_shared_key comes last; Section 4.2.9:
	// a PSK offer needs psk_key_exchange_modes.
	if ch.pskNotLast {
		return nil, c.fail(alertIllegalParameter, "tls: pre_shared_key is not the last ClientHello extension")
	}
	if ch.hasPreSharedKey && !ch.hasPSKModes {
		return nil, c.fail(alertMissingExtension, "tls: pre_shared_key without psk_key_exchange_modes")
	}
	return ch, nil
}

// readClientHello reads the first ClientHello, checks that it offers TLS
// 1.3, and runs the ClientHello hook.
func (hs *serverHandshakeState) readClientHello() error {
	c := hs.c
	ch, err := hs.readClientHelloMsg()
	if err != nil {
		return err
	}
	hs.hello = ch
	// RFC 8446, Section 4.2.1: without supported_versions the client is
	// TLS 1.2 or older; either way TLS 1.3 must be offered.
	if !contains(ch.supportedVersions, versionTLS13) {
		return c.fail(alertProtocolVersion, "tls: client does not offer TLS 1.3")
	}
	// RFC 8446, Section 4.1.2: exactly the null compression method.
	if len(ch.compressionMethods) != 1 || ch.compressionMethods[0] != 0 {
		return c.fail(alertIllegalParameter, "tls: TLS 1.3 ClientHello with compression methods")
	}
	// This server accepts no 0-RTT data: it neither echoes early_data nor
	// fails, and skips what the client sent under its PSK
	// (RFC 8446, Section 4.2.10).
	if ch.earlyData {
		c.skipEarlyData = maxSkippedEarlyData
	}
	c.updateState(func(s *backends.State) {
		s.Version = versionTLS13
		s.ServerName = ch.serverName
	})
	if hs.hooks.ClientHello != nil {
		info := &backends.ClientHello{
			ServerName:       ch.serverName,
			ALPN:             slices.Clone(ch.alpnProtocols),
			CipherSuites:     slices.Clone(ch.cipherSuites),
			Versions:         slices.Clone(ch.supportedVersions),
			Groups:           slices.Clone(ch.supportedGroups),
			SignatureSchemes: slices.Clone(ch.signatureSchemes),
		}
		replacement, err := hs.hooks.ClientHello(hs.ctx, info)
		if err != nil {
			return c.fail(hookAlert(err, alertHandshakeFailure), "tls: ClientHello rejected by the application: %w", err)
		}
		if replacement != nil {
			if err := checkOptions(&replacement.Options); err != nil {
				return c.fail(alertInternalError, "%v", err)
			}
			hs.config = replacement
		}
	}
	return nil
}

// processClientHello negotiates the suite, the group (sending a
// HelloRetryRequest if needed), ALPN and the certificate.
func (hs *serverHandshakeState) processClientHello() error {
	c, ch := hs.c, hs.hello
	// RFC 8446, Section 9.2: without a PSK, signature_algorithms,
	// supported_groups and key_share are mandatory.
	if !ch.hasSignatureAlgorithms {
		return c.fail(alertMissingExtension, "tls: ClientHello without signature_algorithms")
	}
	if !ch.hasSupportedGroups || !ch.hasKeyShares {
		return c.fail(alertMissingExtension, "tls: ClientHello without supported_groups or key_share")
	}
	// RFC 8446, Section 4.2.8: one share per group, each for a group in
	// supported_groups. Both lists may hold thousands of entries, so they
	// are checked against sets, not scanned for each other.
	var supported, seen codeSet
	for _, g := range ch.supportedGroups {
		supported.add(g)
	}
	for _, ks := range ch.keyShares {
		if seen.has(ks.group) || !supported.has(ks.group) {
			return c.fail(alertIllegalParameter, "tls: invalid key_share list")
		}
		seen.add(ks.group)
	}

	for _, id := range usableSuites(hs.config.CipherSuites) {
		if contains(ch.cipherSuites, id) {
			hs.suite = cipherSuiteByID(id)
			break
		}
	}
	if hs.suite == nil {
		return c.fail(alertHandshakeFailure, "tls: no cipher suite in common")
	}
	c.updateState(func(s *backends.State) { s.CipherSuite = hs.suite.id })

	group, share, shared := selectGroup(groupsOf(&hs.config.Options), ch.supportedGroups, ch.keyShares)
	if group == 0 {
		return c.fail(alertHandshakeFailure, "tls: no key exchange group in common")
	}
	hs.transcript = hs.suite.newHash()
	hs.transcript.Write(ch.raw)
	hs.group, hs.clientShare = group, share
	if !shared {
		if err := hs.doHelloRetryRequest(); err != nil {
			return err
		}
	}
	c.updateState(func(s *backends.State) { s.Group = hs.group })

	// RFC 7301, Section 3.2: the server's preference wins; no overlap is
	// no_application_protocol.
	if len(ch.alpnProtocols) > 0 && len(hs.config.ALPN) > 0 {
		hs.alpn = pickALPN(hs.config.ALPN, ch.alpnProtocols)
		if hs.alpn == "" {
			return c.fail(alertNoApplicationProtocol, "tls: no application protocol in common")
		}
		c.updateState(func(s *backends.State) { s.ALPN = hs.alpn })
	}

	ident, scheme := pickIdentity(hs.config.Identities, c.signingSchemes(ch.signatureSchemes), ch.serverName, nil)
	if ident == nil {
		if len(hs.config.Identities) == 0 {
			return c.fail(alertInternalError, "tls: server has no certificate")
		}
		return c.fail(alertHandshakeFailure, "tls: no certificate fits the client's signature algorithms")
	}
	hs.identity, hs.sigScheme = ident, scheme
	return hs.checkForResumption()
}

// pickALPN returns the first of server's ALPN IDs that client offers, ""
// for none, in time linear in the lists: a guest's server may accept some
// 21,000 IDs and a peer offer as many, and comparing each with each took
// a second of one handshake.
func pickALPN(server, client []string) string {
	if len(server)*len(client) <= 1<<12 {
		for _, p := range server {
			if contains(client, p) {
				return p
			}
		}
		return ""
	}
	offered := make(map[string]struct{}, len(client))
	for _, p := range client {
		offered[p] = struct{}{}
	}
	for _, p := range server {
		if _, ok := offered[p]; ok {
			return p
		}
	}
	return ""
}

// selectGroup picks the key exchange group: the first of the server's
// groups that the client lists in supported_groups, whether or not the
// client sent a key share for it. shared reports whether the client sent
// a share for that group (then share is it); otherwise the server must ask
// for one with a HelloRetryRequest (RFC 8446, Section 4.1.1). group is 0
// when there is no group in common.
//
// A share the client sent for a group the server ranks lower is never
// taken instead: key_share is only the client's guess of what the server
// will pick, an arbitrary subset of supported_groups (RFC 8446, Section
// 4.2.8), so choosing by it would let a client that predicts X25519 talk
// a server out of the post-quantum hybrid both support
// (draft-ietf-tls-key-share-prediction-01, Section 4). The package doc
// gives the reasoning.
func selectGroup(server, supported []uint16, shares []keyShare) (group uint16, share []byte, shared bool) {
	for _, g := range server {
		if !contains(supported, g) {
			continue
		}
		for _, ks := range shares {
			if ks.group == g {
				return g, ks.data, true
			}
		}
		return g, nil, false
	}
	return 0, nil, false
}

// doHelloRetryRequest asks for a share of hs.group and reads the second
// ClientHello (RFC 8446, Section 4.1.4).
func (hs *serverHandshakeState) doHelloRetryRequest() error {
	c := hs.c
	// The client waits for the HelloRetryRequest: handshake bytes after
	// its first ClientHello are premature.
	if len(c.hand) > 0 {
		return c.fail(alertUnexpectedMessage, "tls: handshake data after the first ClientHello")
	}
	ch1 := hs.transcript.Sum(nil)
	hs.transcript.Reset()
	hs.transcript.Write([]byte{typeMessageHash, 0, 0, uint8(len(ch1))})
	hs.transcript.Write(ch1)
	hs.hrrPrefix = append([]byte{typeMessageHash, 0, 0, uint8(len(ch1))}, ch1...)
	hrr := &serverHelloMsg{
		vers:             versionTLS12,
		random:           helloRetryRequestRandom[:],
		sessionID:        hs.hello.sessionID,
		cipherSuite:      hs.suite.id,
		supportedVersion: versionTLS13,
		selectedGroup:    hs.group,
	}
	var sent bytes.Buffer
	if err := c.writeMessage(hrr, io.MultiWriter(hs.transcript, &sent)); err != nil {
		return err
	}
	hs.hrrPrefix = append(hs.hrrPrefix, sent.Bytes()...)
	if err := hs.sendCompatCCS(); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	hs.sentHRR = true
	c.didHRR = true

	ch, err := hs.readClientHelloMsg()
	if err != nil {
		return err
	}
	hs.transcript.Write(ch.raw)
	old := hs.hello
	if helloChanged(ch, old) {
		return c.fail(alertIllegalParameter, "tls: second ClientHello changed more than the key share")
	}
	if ch.earlyData {
		return c.fail(alertIllegalParameter, "tls: second ClientHello offers early data")
	}
	// The PSK offer may be updated but not dropped, nor made now (RFC
	// 8446, Section 4.1.2).
	if old.hasPreSharedKey && !ch.hasPreSharedKey {
		return c.fail(alertMissingExtension, "tls: second ClientHello drops the pre_shared_key offer")
	}
	if ch.hasPreSharedKey && !old.hasPreSharedKey {
		return c.fail(alertIllegalParameter, "tls: second ClientHello adds a pre_shared_key offer")
	}
	// Early data, if any, came before the second ClientHello.
	c.skipEarlyData = 0
	if len(ch.keyShares) != 1 || ch.keyShares[0].group != hs.group {
		return c.fail(alertIllegalParameter, "tls: second ClientHello has no single key share for %s", groupName(hs.group))
	}
	hs.hello = ch
	hs.clientShare = ch.keyShares[0].data
	return nil
}

// helloChanged reports whether the second ClientHello ch changed what RFC
// 8446, Section 4.1.2 says it repeats from the first, old: everything but
// key_share, early_data (dropped), pre_shared_key (updated) and padding.
// This server sends no cookie, so a cookie is a change too. Before,
// signature_algorithms_cert, status_request, psk_key_exchange_modes,
// post_handshake_auth and cookie were not compared, and the second
// ClientHello's governed the handshake; crypto/tls refuses all but
// post_handshake_auth, which it does not implement.
func helloChanged(ch, old *clientHelloMsg) bool {
	return ch.vers != old.vers || !bytes.Equal(ch.random, old.random) || !bytes.Equal(ch.sessionID, old.sessionID) ||
		!slices.Equal(ch.cipherSuites, old.cipherSuites) || !bytes.Equal(ch.compressionMethods, old.compressionMethods) ||
		ch.serverName != old.serverName || !slices.Equal(ch.alpnProtocols, old.alpnProtocols) ||
		!slices.Equal(ch.supportedVersions, old.supportedVersions) ||
		!slices.Equal(ch.supportedGroups, old.supportedGroups) ||
		!slices.Equal(ch.signatureSchemes, old.signatureSchemes) ||
		!slices.Equal(ch.signatureSchemesCert, old.signatureSchemesCert) ||
		!bytes.Equal(ch.pskModes, old.pskModes) || ch.hasPSKModes != old.hasPSKModes ||
		ch.ocspStapling != old.ocspStapling || ch.postHandshakeAuth != old.postHandshakeAuth ||
		!bytes.Equal(ch.cookie, old.cookie)
}

// sendCompatCCS sends the middlebox-compatibility change_cipher_spec right
// after the server's first handshake message, ServerHello or
// HelloRetryRequest (RFC 8446, Appendix D.4). It goes out even when the
// client sent an empty legacy_session_id, as crypto/tls and BoringSSL do:
// a TLS 1.3 peer ignores it (RFC 8446, Section 5), and clients that
// expect it exist.
func (hs *serverHandshakeState) sendCompatCCS() error {
	if hs.sentHRR {
		return nil
	}
	return hs.c.writeChangeCipherSpec()
}

func (hs *serverHandshakeState) sendServerParameters() error {
	c := hs.c
	kx := keyExchangeByID(hs.group)
	ct, shared, err := kx.encapsulate(hs.clientShare)
	if err != nil {
		if err == errKeyShare {
			// RFC 8446, Section 4.2.8 and draft-ietf-tls-ecdhe-mlkem:
			// invalid shares are illegal_parameter.
			return c.fail(alertIllegalParameter, "tls: invalid client key share for %s", groupName(hs.group))
		}
		return c.fail(alertInternalError, "tls: %s: %v", groupName(hs.group), err)
	}
	sh := &serverHelloMsg{
		vers:             versionTLS12,
		random:           make([]byte, 32),
		sessionID:        hs.hello.sessionID,
		cipherSuite:      hs.suite.id,
		supportedVersion: versionTLS13,
		serverShare:      keyShare{group: hs.group, data: ct},
		hasPreSharedKey:  hs.psk != nil,
		selectedIdentity: hs.pskIndex,
	}
	if _, err := rand.Read(sh.random); err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	if err := c.writeMessage(sh, hs.transcript); err != nil {
		return err
	}
	if err := hs.sendCompatCCS(); err != nil {
		return err
	}

	hs.handshakeSecret = hs.suite.handshakeSecretPSK(hs.psk, shared)
	hs.clientHandshakeSecret = hs.suite.deriveSecret(hs.handshakeSecret, labelClientHandshake, hs.transcript)
	serverSecret := hs.suite.deriveSecret(hs.handshakeSecret, labelServerHandshake, hs.transcript)
	c.logKey(keyLogClientHandshake, hs.hello.random, hs.clientHandshakeSecret)
	c.logKey(keyLogServerHandshake, hs.hello.random, serverSecret)
	c.out.Lock()
	err = c.out.setTrafficSecret(hs.suite, serverSecret)
	c.out.Unlock()
	if err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	if err := c.setReadSecret(hs.suite, hs.clientHandshakeSecret); err != nil {
		return err
	}
	hs.serverHandshakeSecret = serverSecret

	// A server that used the client's name acknowledges it on a full
	// handshake (RFC 6066, Section 3).
	ee := &encryptedExtensionsMsg{alpnProtocol: hs.alpn, serverNameAck: hs.hello.serverName != "" && hs.psk == nil}
	return c.writeMessage(ee, hs.transcript)
}

func (hs *serverHandshakeState) requestClientCert() bool {
	return hs.config.ClientAuth != backends.NoClientCert
}

func (hs *serverHandshakeState) sendServerCertificate() error {
	c := hs.c
	if hs.psk != nil {
		// A resumed handshake authenticates with the PSK
		// (RFC 8446, Section 2.2).
		c.updateState(func(s *backends.State) { s.DidResume, s.LocalIdentity = true, hs.identity })
		return nil
	}
	if hs.requestClientCert() {
		msg, err := c.certificateRequest(hs.config, nil)
		if err != nil {
			return c.fail(alertInternalError, "%v", err)
		}
		c.certRequested = true
		if err := c.writeHandshake(msg, hs.transcript); err != nil {
			return err
		}
	}
	cm := &certificateMsg{chain: hs.identity.Chain}
	if hs.hello.ocspStapling {
		cm.ocspStaple = hs.identity.OCSP // RFC 8446, Section 4.4.2.1
	}
	msg, err := c.certificateMessage(cm)
	if err != nil {
		return err
	}
	if err := c.writeHandshake(msg, hs.transcript); err != nil {
		return err
	}
	sig, err := signHandshake(hs.identity.Key, hs.sigScheme, serverSignatureContext, hs.transcript)
	if err != nil {
		return c.fail(alertInternalError, "tls: server signature failed: %v", err)
	}
	cv := &certificateVerifyMsg{scheme: hs.sigScheme, signature: sig}
	if err := c.writeMessage(cv, hs.transcript); err != nil {
		return err
	}
	c.updateState(func(s *backends.State) { s.LocalIdentity = hs.identity })
	return nil
}

func (hs *serverHandshakeState) sendServerFinished() error {
	c := hs.c
	fin := &finishedMsg{verifyData: hs.suite.finishedHash(hs.serverHandshakeSecret, hs.transcript)}
	if err := c.writeMessage(fin, hs.transcript); err != nil {
		return err
	}
	master := hs.suite.masterSecret(hs.handshakeSecret)
	hs.clientAppSecret = hs.suite.deriveSecret(master, labelClientApplication, hs.transcript)
	serverSecret := hs.suite.deriveSecret(master, labelServerApplication, hs.transcript)
	c.exporterSecret = hs.suite.deriveSecret(master, labelExporter, hs.transcript)
	c.suite = hs.suite
	c.logKey(keyLogClientTraffic, hs.hello.random, hs.clientAppSecret)
	c.logKey(keyLogServerTraffic, hs.hello.random, serverSecret)
	c.logKey(keyLogExporter, hs.hello.random, c.exporterSecret)
	c.out.Lock()
	err := c.out.setTrafficSecret(hs.suite, serverSecret)
	c.out.Unlock()
	if err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	if err := hs.sendSessionTicket(master); err != nil {
		return err
	}
	// The whole flight goes out in one write.
	return c.flushLocked()
}

func (hs *serverHandshakeState) readClientCertificate() error {
	c := hs.c
	if !hs.requestClientCert() {
		return nil
	}
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeCertificate {
		return c.fail(alertUnexpectedMessage, "tls: expected client Certificate, got message type %d", msg[0])
	}
	cm, err := c.readClientCertificate(msg, hs.certReqContext)
	if err != nil {
		return err
	}
	hs.transcript.Write(msg)
	if len(cm.chain) == 0 {
		// RFC 8446, Section 4.4.2.4: an empty chain when one is required
		// is certificate_required.
		if hs.config.ClientAuth == backends.RequireClientCert {
			return c.fail(alertCertificateRequired, "tls: client sent no certificate")
		}
		if hs.hooks.VerifyClient != nil {
			if err := hs.hooks.VerifyClient(hs.ctx, nil); err != nil {
				return c.fail(hookAlert(err, alertBadCertificate), "tls: client rejected by the application: %w", err)
			}
		}
		return nil
	}
	certs, err := parseChain(cm.chain, hs.config.RSAKeyBitsLimit())
	if err != nil {
		return c.fail(alertBadCertificate, "%v", err)
	}
	peerKey, err := leafSigningKey(certs[0])
	if err != nil {
		return c.fail(leafKeyAlert(err), "%v", err)
	}
	if err := verifyChain(certs, hs.config.ClientCAs, "", x509.ExtKeyUsageClientAuth, hs.config.Time); err != nil {
		return c.fail(certificateAlert(err), "tls: failed to verify the client certificate: %w", err)
	}
	c.updateState(func(s *backends.State) { s.PeerChain = cm.chain })

	msg, err = c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeCertificateVerify {
		return c.fail(alertUnexpectedMessage, "tls: expected client CertificateVerify, got message type %d", msg[0])
	}
	if err := c.readCertificateVerify(msg, peerKey, "client", hs.transcript); err != nil {
		return err
	}
	if hs.hooks.VerifyClient != nil {
		if err := hs.hooks.VerifyClient(hs.ctx, cm.chain); err != nil {
			return c.fail(hookAlert(err, alertBadCertificate), "tls: client certificate rejected by the application: %w", err)
		}
	}
	return nil
}

func (hs *serverHandshakeState) readClientFinished() error {
	c := hs.c
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeFinished {
		return c.fail(alertUnexpectedMessage, "tls: expected client Finished, got message type %d", msg[0])
	}
	var fin finishedMsg
	if !fin.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed client Finished")
	}
	want := hs.suite.finishedHash(hs.clientHandshakeSecret, hs.transcript)
	if !hmac.Equal(want, fin.verifyData) {
		return c.fail(alertDecryptError, "tls: invalid client Finished")
	}
	hs.transcript.Write(msg)
	c.auth.setHandshakeTranscript(hs.hello.postHandshakeAuth, hs.transcript)
	c.auth.config, c.auth.hooks = hs.config, hs.hooks
	return c.setReadSecret(hs.suite, hs.clientAppSecret)
}
