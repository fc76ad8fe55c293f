package circlpq

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// Post-handshake client authentication (RFC 8446, Section 4.6.2).
//
// A client that has a ClientIdentity hook offers post_handshake_auth in its
// ClientHello. After the handshake, the server's RequestClientIdentity sends
// a CertificateRequest with a fresh certificate_request_context; the client
// answers, whenever its reader meets the request, through its
// ClientIdentity hook (IdentityRequest.PostHandshake set) with Certificate,
// CertificateVerify (unless the chain is empty) and Finished. Each exchange
// has its own transcript: the handshake's, through the client Finished,
// followed by the CertificateRequest and the answer (RFC 8446, Section 4.4);
// the Finished key comes from the current client application traffic
// secret (RFC 8446, Section 4.4, table "Post-Handshake").
//
// On the server the answer is read by whoever owns the read side: a Read in
// progress processes it on the way, and otherwise RequestClientIdentity
// reads until its answer is in, keeping any application data that
// interleaves (between whole handshake messages, RFC 8446, Section 5.1) for
// the next Read. A Read that comes while it reads cuts its read of the
// transport short (a read deadline that has passed, then the one set
// through the connection put back) and takes the read side, the data kept
// and the answer on its way. Requests may overlap; the client answers
// them in order.
//
// A transport that never blocks gives no signal when the answer arrives:
// when its Read times out, RequestClientIdentity lets go of the read side
// and tries again after a pause that grows from minAuthPoll to maxAuthPoll
// (a Read that comes meanwhile takes the answer on its way, and wakes it).
// When the application data it keeps for Read reached its bound, it waits
// for a Read, or for the transport's counter to give bytes back
// (backends.ReadAheadNotifier; one that does not notify is asked again on
// the same timer).

// maxPendingAuth bounds the server's outstanding certificate requests.
const maxPendingAuth = 8

// maxAuthAnswers bounds the certificate requests a client answers in one
// connection. Each answer costs a signature and sends the chain, for a
// request of a few dozen bytes: without a bound a server could keep a
// client signing for as long as it sends a byte of data between requests.
// A server asks again only for a resource that needs another identity, a
// few times in a connection's life.
const maxAuthAnswers = 16

// maxAuthBufferedInput bounds the application data RequestClientIdentity
// keeps for Read while it waits for an answer; beyond it, it leaves reading
// to Read. The transport's backends.ReadAheadCounter, when it has one,
// bounds it with every other connection's (see readForAuth).
const maxAuthBufferedInput = 1 << 20

// minAuthPoll and maxAuthPoll bound the pause between two attempts of
// RequestClientIdentity to read its answer: from a transport that timed
// out, or past a counter that refused it and does not notify.
const (
	minAuthPoll = time.Millisecond
	maxAuthPoll = 50 * time.Millisecond
)

// authRead is how readForAuth stopped without an error.
type authRead int

const (
	authAnswered authRead = iota // the request is answered
	authFull                     // too much application data waits for Read
	authIdle                     // the transport timed out: nothing to read now
)

// authState is the post-handshake authentication state of a connection.
type authState struct {
	// Set once by the handshake, read-only afterwards.
	offered    bool      // the client sent post_handshake_auth
	transcript hash.Hash // the handshake transcript through the client Finished
	config     *backends.ServerConfig
	hooks      *backends.ServerConfig

	answered int // client: requests answered so far; guarded by the Conn's in

	mu      sync.Mutex
	pending []*authRequest // server: requests in the order they were sent
	ctx     context.Context
	cancel  context.CancelFunc
}

// An authRequest is one server request and the answer read so far.
type authRequest struct {
	ctx        context.Context // of RequestClientIdentity, for VerifyClient
	context    []byte          // certificate_request_context
	transcript hash.Hash
	expect     uint8 // the next message: Certificate, CertificateVerify or Finished
	chain      [][]byte
	peerKey    crypto.PublicKey

	done chan struct{}
	err  error
}

// setHandshakeTranscript records what post-handshake authentication needs
// from the finished handshake.
func (a *authState) setHandshakeTranscript(offered bool, transcript hash.Hash) {
	a.offered, a.transcript = offered, transcript
}

// hookContext is the context of ClientIdentity calls made after the
// handshake; Close cancels it.
func (a *authState) hookContext() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx == nil {
		a.ctx, a.cancel = context.WithCancel(context.Background())
	}
	return a.ctx
}

// shutdown cancels hooks in progress and fails outstanding requests.
func (a *authState) shutdown(err error) {
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	} else {
		a.ctx, a.cancel = context.WithCancel(context.Background())
		a.cancel()
	}
	pending := a.pending
	a.pending = nil
	a.mu.Unlock()
	for _, r := range pending {
		r.finish(err)
	}
}

func (r *authRequest) finish(err error) {
	select {
	case <-r.done:
	default:
		r.err = err
		close(r.done)
	}
}

// waiting reports whether a server request is outstanding, so that a
// Certificate may come.
func (a *authState) waiting() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending) > 0
}

// cloneTranscript copies the handshake transcript for one exchange.
func cloneTranscript(h hash.Hash) (hash.Hash, error) {
	cl, ok := h.(hash.Cloner)
	if !ok {
		return nil, errors.New("tls: transcript hash cannot be cloned")
	}
	c, err := cl.Clone()
	if err != nil {
		return nil, err
	}
	return c.(hash.Hash), nil
}

// RequestClientIdentity performs post-handshake client authentication
// (RFC 8446, Section 4.6.2) and returns the client's certificate chain,
// validated against ClientCAs and accepted by VerifyClient; an empty chain
// means the client declined. The client must have offered
// post_handshake_auth. Application data that arrives meanwhile is kept for
// Read. Cancelling ctx stops the wait (the request stays outstanding: a
// later answer is still checked, and dropped); it does not close the
// connection.
func (c *Conn) RequestClientIdentity(ctx context.Context) ([][]byte, error) {
	if c.isClient {
		return nil, errors.New("tls: RequestClientIdentity on a client connection")
	}
	if !c.handshakeDone.Load() {
		return nil, errors.New("tls: RequestClientIdentity before the handshake completed")
	}
	if !c.auth.offered {
		return nil, errors.New("tls: the client did not offer post-handshake authentication (post_handshake_auth)")
	}
	req, err := c.sendCertificateRequest(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.awaitAuth(ctx, req); err != nil {
		return nil, err
	}
	if req.err != nil {
		return nil, req.err
	}
	return req.chain, nil
}

// sendCertificateRequest sends a post-handshake CertificateRequest and
// queues its request.
func (c *Conn) sendCertificateRequest(ctx context.Context) (*authRequest, error) {
	req := &authRequest{ctx: ctx, context: make([]byte, 32), expect: typeCertificate, done: make(chan struct{})}
	// RFC 8446, Section 4.3.2: the context must be unique within the
	// connection; 32 random bytes are.
	if _, err := rand.Read(req.context); err != nil {
		return nil, err
	}
	msg, err := c.certificateRequest(c.auth.config, req.context)
	if err != nil {
		return nil, err
	}
	if req.transcript, err = cloneTranscript(c.auth.transcript); err != nil {
		return nil, err
	}
	req.transcript.Write(msg)

	// The queue and the wire keep the same order: the request is queued
	// and written under out. It is queued before it is written, so that
	// the lock of the queue, which a Read takes for any handshake record
	// (holdBacklog, handleAuthMessage), is not held across a write that
	// may wait for the peer.
	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return nil, errors.New("tls: RequestClientIdentity after close_notify")
	}
	c.auth.mu.Lock()
	if len(c.auth.pending) >= maxPendingAuth {
		c.auth.mu.Unlock()
		return nil, errors.New("tls: too many outstanding post-handshake certificate requests")
	}
	c.auth.pending = append(c.auth.pending, req)
	c.auth.mu.Unlock()
	if _, err = c.writeRecordLocked(recordTypeHandshake, msg); err != nil {
		if c.auth.remove(req) {
			req.finish(err)
		}
		return nil, err
	}
	return req, nil
}

// remove takes req out of the outstanding requests and reports whether it
// was there: its CertificateRequest was not sent, or it was answered.
// Whoever takes a request out finishes it, once: Close (shutdown) or a
// failed connection (failAuth) may have taken it first, the queue with it.
func (a *authState) remove(req *authRequest) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.pending)
	a.pending = slices.DeleteFunc(a.pending, func(r *authRequest) bool { return r == req })
	return len(a.pending) < n
}

// awaitAuth waits until req is answered, reading the connection itself
// whenever no Read does.
func (c *Conn) awaitAuth(ctx context.Context, req *authRequest) error {
	poll := minAuthPoll
	for {
		select {
		case <-req.done:
			return nil
		default:
		}
		// Take the read side, unless the answer or ctx comes first. The
		// handoff over an unbuffered channel leaves the lock with exactly
		// one owner.
		acquired, abandon := make(chan struct{}), make(chan struct{})
		go func() {
			c.in.Lock()
			select {
			case acquired <- struct{}{}:
			case <-abandon:
				c.in.Unlock()
			}
		}()
		select {
		case <-req.done:
			close(abandon)
			return nil
		case <-ctx.Done():
			close(abandon)
			return ctx.Err()
		case <-acquired:
		}
		// Taken before readForAuth asks the counter: a refund after the
		// counter refused closes it.
		freed, notifies := c.readAhead.Freed()
		how, err := c.readForAuth(ctx, req)
		var read <-chan struct{}
		if err == nil && how != authAnswered {
			read = c.readWake()
		}
		c.in.Unlock()
		if err != nil {
			return err
		}
		switch {
		case how == authFull && notifies:
			// Too much application data is waiting for Read: wait for a
			// Read (which may take the data, or the answer on its way),
			// or for the counter to have room again (this connection's
			// Read took the last of its data, or another connection
			// gave some back).
			select {
			case <-req.done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-read:
			case <-freed:
			}
			poll = minAuthPoll
		case how == authFull, how == authIdle:
			// Nothing is to be read now (a transport that never blocks
			// timed out), or a counter that does not notify refused: a
			// Read that comes meanwhile takes the answer on its way;
			// otherwise try again after a pause, sooner after a Read: a
			// Read may have taken the data and stopped, just short of
			// the answer, and no other Read may come.
			t := time.NewTimer(poll)
			select {
			case <-req.done:
				t.Stop()
				return nil
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-read:
				t.Stop()
				poll = minAuthPoll
				continue
			case <-t.C:
			}
			poll = min(2*poll, maxAuthPoll)
		default:
			poll = minAuthPoll
		}
	}
}

// readWake returns a channel the next Read closes as it takes the read
// side, for a request waiting for one. The caller holds in.
func (c *Conn) readWake() <-chan struct{} {
	if c.readWoken == nil {
		c.readWoken = make(chan struct{})
	}
	return c.readWoken
}

// readForAuth reads records until req is answered, keeping application
// data for Read. It stops early when the kept data reached its bound
// (authFull) or the transport timed out (authIdle); a timeout, like every
// other stop but an error, leaves the connection intact. The kept data
// reaches its bound at maxAuthBufferedInput, or when the transport's
// counter refuses what the connection would hold to read one more record
// (growReadAhead: the buffer's capacity and the record buffer; the record
// is read after the counter took it, so what the connection holds never
// crosses what the counter allowed). Read keeps the count until it took
// the last of the data, and the buffer with it. Data a Read left is kept
// so too, once the counter took it. The caller holds in.
func (c *Conn) readForAuth(ctx context.Context, req *authRequest) (how authRead, err error) {
	if c.aheadBuf == nil && len(c.input) > 0 && c.readAhead.Hold(int64(len(c.input))+c.rawHeld()) != nil {
		// Data a Read decrypted and has not taken all of: kept below in
		// a buffer of its own, it counts as read ahead, and the counter
		// refuses it. It stays where Read left it, and nothing is read
		// ahead of it until Read took it.
		return authFull, nil
	}
	// Application data already read stays ahead of what arrives now,
	// where it is in the buffer an earlier call kept it in (base; saved
	// is the rest of it Read has not taken, up to base's end), which
	// growReadAhead moves only as it may; otherwise in a new buffer,
	// which also stops c.input aliasing the raw input buffer.
	base, saved := c.aheadBuf, c.input
	if base == nil {
		saved = make([]byte, len(c.input))
		copy(saved, c.input)
		base = saved
	}
	c.input, c.aheadBuf = nil, nil
	defer func() {
		c.releaseRawIn()
		if len(saved) > 0 {
			c.input, c.aheadBuf = saved, base
		}
		// No more than the counter took for the last record, the start
		// of a record read ahead included: never refused.
		c.readAhead.Hold(int64(cap(c.aheadBuf)) + c.rawHeld())
	}()

	// A read of the transport is cut short when ctx ends or a Read waits
	// for in (cutAhead), and the deadline put back as it was set.
	c.readingAhead(true)
	defer c.readingAhead(false)
	stop := context.AfterFunc(ctx, c.cutAhead)
	defer stop()
	// Messages without data in between are bounded as in Read, with the
	// same count (handlePostHandshakeBounded).
	for {
		select {
		case <-req.done:
			return authAnswered, nil
		default:
		}
		if c.readers.Load() > 0 {
			// A Read waits: it takes the data read ahead, and the
			// answer on its way, the whole messages left in hand
			// first. The request waits for it (readWake).
			return authIdle, nil
		}
		if c.in.err != nil {
			return 0, c.in.err
		}
		if c.handshakeMessageComplete() {
			if err := c.handlePostHandshakeBounded(); err != nil {
				return 0, err
			}
			continue
		}
		var ok bool
		if base, saved, ok = c.growReadAhead(base, saved); !ok {
			return authFull, nil
		}
		err := c.readRecordLocked()
		if len(c.input) > 0 {
			// Within the capacity growReadAhead made: a record carries
			// at most maxPlaintext bytes of data.
			saved = append(saved, c.input...)
			c.input = nil
		}
		if err != nil {
			if isTimeout(err) {
				if ctx.Err() != nil {
					// Interrupted by ctx: the connection is intact.
					return 0, ctx.Err()
				}
				return authIdle, nil
			}
			return 0, c.latchReadError(err)
		}
	}
}

// growReadAhead returns buf, the application data readForAuth keeps for
// Read, and base, the buffer it is the end of (buf ends where base does;
// before buf, what Read took), with room after buf for one more record's
// data, once the transport's counter, if any, took what the connection
// then holds: base's capacity and a pooled record buffer to read the
// record into. When buf has no such room it makes it, in one of three
// ways, each copying buf once:
//
//   - it moves buf to base's front, if that makes room and Read took at
//     least as much of base as buf holds: each byte Read takes is then
//     paid for by one byte moved at most, where moving buf at every call,
//     each Read of a request's wait making one, copied up to 1 MiB for
//     each Read however little it took (64 bytes for each byte a peer
//     sent, read 16 KiB at a time);
//   - otherwise, while base is short of maxAuthBufferedInput and a
//     record, it grows: to the most the counter takes of twice base's
//     capacity, down to one and a half times it (or to one more record,
//     if that is more), in whole records. A step of at least half keeps
//     the number of buffers (and copies) a connection makes logarithmic
//     in what it reads ahead, however little the counter has left, where
//     steps of one record would copy the whole buffer for each;
//   - otherwise (base is at its largest, or the counter takes none of
//     the sizes asked) it returns false, and base and buf as they were,
//     as it does when buf holds maxAuthBufferedInput or more: the
//     request waits for Read to take more, or for a refund.
//
// The caller holds in.
func (c *Conn) growReadAhead(base, buf []byte) ([]byte, []byte, bool) {
	if len(buf) >= maxAuthBufferedInput {
		return base, buf, false
	}
	need := len(buf) + maxPlaintext
	if cap(buf) >= need {
		return base, buf, c.readAhead.Hold(int64(cap(base)+rawInLen)) == nil
	}
	largest := maxAuthBufferedInput + maxPlaintext
	if cap(base) >= need && (cap(base)-cap(buf) >= len(buf) || cap(base) >= largest) {
		if cap(base)-cap(buf) < len(buf) || c.readAhead.Hold(int64(cap(base)+rawInLen)) != nil {
			return base, buf, false
		}
		buf = base[:copy(base[:cap(base)], buf)]
		return base, buf, true
	}
	most := min(max(need, 2*cap(base)), largest)
	least := min(max(need, cap(base)+cap(base)/2), most)
	// The sizes asked are least plus k records, for k in [0, steps), and
	// most; a size refused is never asked again, and a size taken only
	// by a larger one, so what the counter holds only grows.
	n := most
	if c.readAhead.Hold(int64(most+rawInLen)) != nil {
		n = 0
		steps := (most - least + maxPlaintext - 1) / maxPlaintext
		lo, hi := -1, steps
		for hi-lo > 1 {
			k := lo + (hi-lo+1)/2
			if c.readAhead.Hold(int64(least+k*maxPlaintext+rawInLen)) == nil {
				lo, n = k, least+k*maxPlaintext
			} else {
				hi = k
			}
		}
		if n == 0 {
			return base, buf, false
		}
	}
	grown := make([]byte, len(buf), n)
	copy(grown, buf)
	return grown, grown, true
}

// aheadHeld is what the connection holds of application data read ahead
// of Read: the whole buffer readForAuth kept it in, until Read took the
// last of it, and the pooled record buffer while it holds the start of a
// record read ahead. The caller holds in.
func (c *Conn) aheadHeld() int64 {
	if c.aheadBuf == nil {
		return 0
	}
	return int64(cap(c.aheadBuf)) + c.rawHeld()
}

// rawHeld is the size of the pooled record buffer while it holds bytes
// not yet consumed, 0 otherwise. The caller holds in.
func (c *Conn) rawHeld() int64 {
	if c.pooledIn() && c.rawOff < len(c.rawIn) {
		return rawInLen
	}
	return 0
}

// handshakeMessageComplete reports whether a whole handshake message is
// buffered.
func (c *Conn) handshakeMessageComplete() bool {
	if len(c.hand) < 4 {
		return false
	}
	n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
	return len(c.hand) >= 4+n
}

// handleAuthMessage processes a post-handshake message of client
// authentication: a CertificateRequest on the client, the answer on the
// server. Anything else is unexpected_message. The caller holds in.
func (c *Conn) handleAuthMessage(msg []byte) error {
	if c.isClient {
		if msg[0] != typeCertificateRequest {
			return c.fail(alertUnexpectedMessage, "tls: unexpected post-handshake message type %d", msg[0])
		}
		return c.answerCertificateRequest(msg)
	}
	c.auth.mu.Lock()
	var req *authRequest
	if len(c.auth.pending) > 0 {
		req = c.auth.pending[0]
	}
	c.auth.mu.Unlock()
	if req == nil || msg[0] != req.expect {
		return c.failAuth(c.fail(alertUnexpectedMessage, "tls: unexpected post-handshake message type %d", msg[0]))
	}
	var err error
	switch msg[0] {
	case typeCertificate:
		err = c.readAuthCertificate(req, msg)
	case typeCertificateVerify:
		err = c.readAuthCertificateVerify(req, msg)
	case typeFinished:
		err = c.readAuthFinished(req, msg)
	}
	if err != nil {
		return c.failAuth(err)
	}
	return nil
}

// failAuth fails every outstanding request with err, the connection's
// fatal error.
func (c *Conn) failAuth(err error) error {
	c.auth.mu.Lock()
	pending := c.auth.pending
	c.auth.pending = nil
	c.auth.mu.Unlock()
	for _, r := range pending {
		r.finish(err)
	}
	return err
}

func (c *Conn) readAuthCertificate(req *authRequest, msg []byte) error {
	cm, err := c.readClientCertificate(msg, req.context)
	if err != nil {
		return err
	}
	req.transcript.Write(msg)
	req.chain = cm.chain
	if len(cm.chain) == 0 {
		// The client declined; only its Finished follows.
		req.expect = typeFinished
		return nil
	}
	certs, err := parseChain(cm.chain, c.auth.config.RSAKeyBitsLimit())
	if err != nil {
		return c.fail(alertBadCertificate, "%v", err)
	}
	if req.peerKey, err = leafSigningKey(certs[0]); err != nil {
		return c.fail(leafKeyAlert(err), "%v", err)
	}
	cfg := c.auth.config
	if err := verifyChain(certs, cfg.ClientCAs, "", x509.ExtKeyUsageClientAuth, cfg.Time); err != nil {
		return c.fail(certificateAlert(err), "tls: failed to verify the client certificate: %w", err)
	}
	req.expect = typeCertificateVerify
	return nil
}

func (c *Conn) readAuthCertificateVerify(req *authRequest, msg []byte) error {
	if err := c.readCertificateVerify(msg, req.peerKey, "client", req.transcript); err != nil {
		return err
	}
	req.expect = typeFinished
	return nil
}

func (c *Conn) readAuthFinished(req *authRequest, msg []byte) error {
	var fin finishedMsg
	if !fin.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed client Finished")
	}
	// The base key is the current client application traffic secret
	// (RFC 8446, Section 4.4).
	want := c.suite.finishedHash(c.in.trafficSecret, req.transcript)
	if !hmac.Equal(want, fin.verifyData) {
		return c.fail(alertDecryptError, "tls: invalid client Finished in post-handshake authentication")
	}
	if hook := c.auth.hooks.VerifyClient; hook != nil {
		if err := hook(req.ctx, req.chain); err != nil {
			return c.fail(hookAlert(err, alertBadCertificate), "tls: client certificate rejected by the application: %w", err)
		}
	}
	if len(req.chain) > 0 {
		c.updateState(func(s *backends.State) { s.PeerChain = req.chain })
	}
	if c.auth.remove(req) {
		req.finish(nil)
	}
	return nil
}

// answerCertificateRequest answers a post-handshake CertificateRequest
// with the identity the ClientIdentity hook picks, or an empty
// Certificate. The caller holds in.
func (c *Conn) answerCertificateRequest(msg []byte) error {
	// RFC 8446, Section 4.6.2: a request the client did not invite is
	// unexpected_message.
	if !c.auth.offered {
		return c.fail(alertUnexpectedMessage, "tls: post-handshake CertificateRequest without post_handshake_auth")
	}
	if c.auth.answered++; c.auth.answered > maxAuthAnswers {
		return c.fail(alertUnexpectedMessage, "tls: more than %d post-handshake certificate requests", maxAuthAnswers)
	}
	cr := new(certificateRequestMsg)
	if !cr.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed CertificateRequest")
	}
	// RFC 8446, Section 4.3.2: signature_algorithms is mandatory.
	if len(cr.signatureSchemes) == 0 {
		return c.fail(alertMissingExtension, "tls: CertificateRequest without signature_algorithms")
	}
	transcript, err := cloneTranscript(c.auth.transcript)
	if err != nil {
		return c.fail(alertInternalError, "%v", err)
	}
	transcript.Write(msg)

	var ident *backends.Identity
	var scheme uint16
	if hook := c.clientConfig.ClientIdentity; hook != nil {
		req := &backends.IdentityRequest{
			SignatureSchemes: cr.signatureSchemes,
			AcceptableCAs:    cr.certificateAuthorities,
			PostHandshake:    true,
		}
		candidates, err := hook(c.auth.hookContext(), req)
		if err != nil {
			return c.fail(hookAlert(err, alertHandshakeFailure), "tls: client identity selection failed: %w", err)
		}
		ident, scheme = pickIdentity(candidates, c.signingSchemes(cr.signatureSchemes), "", cr.certificateAuthorities)
	}

	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return nil
	}
	cm := &certificateMsg{context: cr.context}
	if ident != nil {
		cm.chain = ident.Chain
	}
	out, err := cm.encode()
	if err != nil {
		return c.internalErrorLocked(fmt.Errorf("%w (%d certificates)", err, len(cm.chain)))
	}
	transcript.Write(out)
	if ident != nil {
		sig, err := signHandshake(ident.Key, scheme, clientSignatureContext, transcript)
		if err != nil {
			return c.internalErrorLocked(fmt.Errorf("tls: client signature failed: %w", err))
		}
		cv, err := (&certificateVerifyMsg{scheme: scheme, signature: sig}).encode()
		if err != nil {
			return c.internalErrorLocked(err)
		}
		transcript.Write(cv)
		out = append(out, cv...)
	}
	fin, err := (&finishedMsg{verifyData: c.suite.finishedHash(c.out.trafficSecret, transcript)}).encode()
	if err != nil {
		return c.internalErrorLocked(err)
	}
	out = append(out, fin...)
	// The three messages may share records (RFC 8446, Section 5.1).
	if _, err := c.writeRecordLocked(recordTypeHandshake, out); err != nil {
		return err
	}
	if ident != nil {
		c.updateState(func(s *backends.State) { s.LocalIdentity = ident })
	}
	return nil
}

// internalErrorLocked is fail with internal_error for a caller that holds
// out: the answer to a post-handshake CertificateRequest could not be
// signed or encoded.
func (c *Conn) internalErrorLocked(err error) error {
	c.sendAlertLocked(alertInternalError)
	return &AlertError{Alert: alertInternalError, Err: err}
}
