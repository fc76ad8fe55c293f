package circlpq

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/wasitls/wasitls/backends"
)

// Session resumption, server side (RFC 8446, Section 2.2 and 4.6.1).
//
// A server given ticket keys (ServerConfig.TicketKeys) that does not
// request client certificates sends one NewSessionTicket right after its
// Finished to clients that offer psk_dhe_ke. The ticket is the session
// state sealed with AES-256-GCM under the newest key, with the hash of the
// server certificate that was presented as additional data: a ticket only
// resumes with the identity it was issued under, so a host serving several
// identities cannot be tricked into vouching for one with another's
// ticket. Offered tickets are opened with any of the keys, so that the
// host can rotate them and still accept tickets sealed under the keys it
// keeps. Resumption always runs a fresh key exchange (psk_dhe_ke, never
// psk_ke) and never accepts 0-RTT data. Every handshake, resumed or not,
// issues a fresh ticket, which lives ticketLifetime. Without keys the
// server issues no ticket and resumes nothing.
//
// The client side is in session_client.go.

const (
	ticketLifetime       = 24 * time.Hour
	ticketFormat         = 1
	pskModeDHE     uint8 = 1 // psk_dhe_ke (RFC 8446, Section 4.2.9)
	maxTicketKeys        = 8 // keys tried on an offered ticket, bounding a hostile host config's cost
)

// ticketCiphers makes the AEADs of keys, newest first.
func ticketCiphers(keys []backends.TicketKey) ([]cipher.AEAD, error) {
	out := make([]cipher.AEAD, 0, min(len(keys), maxTicketKeys))
	for i := range keys[:min(len(keys), maxTicketKeys)] {
		aead, err := newTicketAEAD(keys[i][:])
		if err != nil {
			return nil, err
		}
		out = append(out, aead)
	}
	return out, nil
}

// newTicketAEAD makes the AES-256-GCM AEAD of a ticket key; tests replace
// it to count the decryptions offered tickets cost.
var newTicketAEAD = func(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealedTicketLen is the length of every ticket sealTicket makes with aead
// for suite: the nonce, the session state (16 bytes and a PSK of the
// suite's hash size) and the tag.
func sealedTicketLen(aead cipher.AEAD, suite *cipherSuite) int {
	return aead.NonceSize() + 16 + suite.hash.Size() + aead.Overhead()
}

// loadTicketKeys reads the configuration's ticket keys once per handshake,
// after the ClientHello hook chose the configuration.
func (hs *serverHandshakeState) loadTicketKeys() error {
	if hs.config.TicketKeys == nil {
		return nil
	}
	keys := hs.config.TicketKeys()
	if len(keys) == 0 {
		return nil
	}
	aeads, err := ticketCiphers(keys)
	if err != nil {
		return hs.c.fail(alertInternalError, "tls: ticket keys: %v", err)
	}
	hs.ticketAEADs = aeads
	return nil
}

// sessionState is what a ticket carries.
type sessionState struct {
	suite     uint16
	createdAt uint64 // Unix seconds
	ageAdd    uint32
	psk       []byte
}

func (s *sessionState) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(ticketFormat)
	b.AddUint16(s.suite)
	b.AddUint64(s.createdAt)
	b.AddUint32(s.ageAdd)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.psk) })
	return b.Bytes()
}

func (s *sessionState) unmarshal(data []byte) bool {
	in := cryptobyte.String(data)
	var format uint8
	var psk cryptobyte.String
	if !in.ReadUint8(&format) || format != ticketFormat || !in.ReadUint16(&s.suite) ||
		!in.ReadUint64(&s.createdAt) || !in.ReadUint32(&s.ageAdd) ||
		!in.ReadUint8LengthPrefixed(&psk) || len(psk) == 0 || !in.Empty() {
		return false
	}
	s.psk = psk
	return true
}

// ticketBinding is the additional data that ties a ticket to the server
// certificate it was issued under.
func ticketBinding(leaf []byte) []byte {
	h := sha256.Sum256(leaf)
	return h[:]
}

func sealTicket(aead cipher.AEAD, s *sessionState, leaf []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(s.psk)+64)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	state, err := s.marshal()
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, state, ticketBinding(leaf)), nil
}

// cloneHash copies a transcript hash state.
func cloneHash(h hash.Hash) (hash.Hash, error) {
	c, ok := h.(hash.Cloner)
	if !ok {
		return nil, errors.New("tls: transcript hash cannot be cloned")
	}
	return c.Clone()
}

var errBadTicket = errors.New("tls: ticket not valid here")

// openTicket opens ticket with the first of aeads that can.
func openTicket(aeads []cipher.AEAD, ticket, leaf []byte) (*sessionState, error) {
	var plain []byte
	for _, aead := range aeads {
		n := aead.NonceSize()
		if len(ticket) < n+aead.Overhead() {
			return nil, errBadTicket
		}
		var err error
		if plain, err = aead.Open(nil, ticket[:n], ticket[n:], ticketBinding(leaf)); err == nil {
			break
		}
	}
	if plain == nil {
		return nil, errBadTicket
	}
	s := new(sessionState)
	if !s.unmarshal(plain) {
		return nil, errBadTicket
	}
	return s, nil
}

// checkForResumption looks for an offered ticket this server issued for
// the chosen identity and, when one is valid, checks its binder
// (RFC 8446, Section 4.2.11). It runs after the suite, the group and the
// identity were chosen.
func (hs *serverHandshakeState) checkForResumption() error {
	c, ch := hs.c, hs.hello
	if err := hs.loadTicketKeys(); err != nil {
		return err
	}
	if !ch.hasPreSharedKey || !contains(ch.pskModes, pskModeDHE) || hs.requestClientCert() || hs.ticketAEADs == nil {
		return nil
	}
	if len(ch.pskIdentities) != len(ch.pskBinders) {
		return c.fail(alertIllegalParameter, "tls: PSK identities and binders differ in number")
	}
	now := time.Now()
	// A ticket this server sealed for the suite has one length: an
	// identity of another is none of them, and is skipped without trying
	// the keys on it. Before, each of 8 identities was decrypted with
	// each of 8 keys, and a ClientHello of 8 identities of 7.5 KB made a
	// server spend on them 1.45 to 2 times its handshake.
	ticketLen := sealedTicketLen(hs.ticketAEADs[0], hs.suite)
	for i, id := range ch.pskIdentities {
		if i >= 8 {
			break // bound the work a hostile ClientHello can cause
		}
		if len(id.label) != ticketLen {
			continue
		}
		s, err := openTicket(hs.ticketAEADs, id.label, hs.identity.Chain[0])
		if err != nil || s.suite != hs.suite.id {
			continue
		}
		created := time.Unix(int64(s.createdAt), 0)
		if now.Before(created.Add(-time.Minute)) || now.After(created.Add(ticketLifetime)) {
			continue
		}
		// The binder is a Finished MAC over the transcript up to the
		// ClientHello without its binders (RFC 8446, Section 4.2.11.2).
		h := hs.suite.newHash()
		h.Write(hs.hrrPrefix)
		h.Write(ch.raw[:len(ch.raw)-ch.bindersLength()])
		want := hs.suite.finishedHash(hs.suite.binderKey(s.psk), h)
		if !hmac.Equal(want, ch.pskBinders[i]) {
			return c.fail(alertDecryptError, "tls: invalid PSK binder")
		}
		hs.psk, hs.pskIndex = s.psk, uint16(i)
		return nil
	}
	return nil
}

// sendSessionTicket sends a ticket right after the server Finished; the
// resumption secret needs the client Finished, which the server computes
// ahead since it requested no certificate (RFC 8446, Section 4.6.1).
func (hs *serverHandshakeState) sendSessionTicket(master []byte) error {
	c, ch := hs.c, hs.hello
	if !contains(ch.pskModes, pskModeDHE) || hs.requestClientCert() || hs.ticketAEADs == nil {
		return nil
	}
	transcript, err := cloneHash(hs.transcript)
	if err != nil {
		return nil // no ticket rather than a failed handshake
	}
	fin := &finishedMsg{verifyData: hs.suite.finishedHash(hs.clientHandshakeSecret, transcript)}
	finMsg, err := fin.encode()
	if err != nil {
		return c.fail(alertInternalError, "%v", err)
	}
	transcript.Write(finMsg)
	resMaster := hs.suite.deriveSecret(master, labelResumption, transcript)

	var ageAdd [4]byte
	if _, err := rand.Read(ageAdd[:]); err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	nonce := []byte{0}
	s := &sessionState{
		suite:     hs.suite.id,
		createdAt: uint64(time.Now().Unix()),
		ageAdd:    uint32(ageAdd[0])<<24 | uint32(ageAdd[1])<<16 | uint32(ageAdd[2])<<8 | uint32(ageAdd[3]),
		psk:       hs.suite.resumptionPSK(resMaster, nonce),
	}
	ticket, err := sealTicket(hs.ticketAEADs[0], s, hs.identity.Chain[0])
	if err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	msg := &newSessionTicketMsg{lifetime: uint32(ticketLifetime / time.Second), ageAdd: s.ageAdd, nonce: nonce, ticket: ticket}
	return c.writeMessage(msg, nil)
}
