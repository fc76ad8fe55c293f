package stdtls

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"slices"

	"github.com/wasitls/wasitls/backends"
)

// Session tickets are bound to the identity they were issued under, as
// circl-pq binds its own: a ticket carries the SHA-256 of the leaf
// certificate the server presented (an entry of SessionState.Extra), and a
// server resumes it only when it holds that identity. crypto/tls alone
// would resume any ticket sealed with its keys; the host shares its keys
// among its guests, so a guest server holding the keys but not the
// identity would resume another's session, and the client, which checks
// no certificate on a resumption, would take it for the server it first
// authenticated.

// ticketBindingPrefix starts the Extra entry that holds the leaf's hash.
const ticketBindingPrefix = "wasitls/stdtls/leaf-sha256/1:"

// A TLS 1.2 ticket also carries the group of the handshake that made its
// session, in an Extra entry of its own: its resumption runs no key
// exchange, the keys are that handshake's, and a server resumes it only
// when its groups include that one (a server without a list of groups, or
// a ticket without a group: RSA key exchange, resumes it). Before, a
// server whose groups were narrowed (a guest's configure-server-groups)
// resumed the TLS 1.2 tickets another configuration of the host issued
// under X25519, and reported X25519 as the connection's group. A TLS 1.3
// resumption runs a fresh key exchange in the server's own groups.
const ticketGroupPrefix = "wasitls/stdtls/tls12-group/1:"

// A ticket also says whether its session's client presented a
// certificate, in an entry of its own ("1" or "0"): a server that asks
// for one resumes only sessions that carry one (and crypto/tls verifies
// their chain again). A resumption sends no CertificateRequest, so a
// client resuming a session without a certificate is never asked for one.
// crypto/tls itself refuses such a session only to a server that requires
// a certificate; without the entry, a server that asked and accepted none
// (a guest's request-client-identity) would resume it, and a client
// holding a ticket of a server that asked for nothing (another guest
// server presenting the same certificate) would not be asked for the
// certificate it had: a server that insisted would fail it. circl-pq
// resumes nothing when it asks.
const ticketClientCertPrefix = "wasitls/stdtls/client-cert/1:"

var errNoTicketIdentity = errors.New("stdtls: no server identity to bind a session ticket to")

// bindTickets makes cfg seal and open its tickets (with its own keys)
// bound to the identity presented, among ids; a server that requests a
// client certificate opens only tickets whose client presented one.
func (c *conn) bindTickets(cfg *tls.Config, ids []*backends.Identity, requested bool) {
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		c.mu.Lock()
		id := c.state.LocalIdentity
		c.mu.Unlock()
		if id == nil || len(id.Chain) == 0 {
			return nil, errNoTicketIdentity
		}
		ss.Extra = slices.DeleteFunc(ss.Extra, func(e []byte) bool {
			return bytes.HasPrefix(e, []byte(ticketBindingPrefix)) || bytes.HasPrefix(e, []byte(ticketGroupPrefix)) ||
				bytes.HasPrefix(e, []byte(ticketClientCertPrefix))
		})
		ss.Extra = append(ss.Extra, leafBinding(id), clientCertEntry(len(cs.PeerCertificates) > 0))
		if cs.Version < tls.VersionTLS13 {
			ss.Extra = append(ss.Extra, append([]byte(ticketGroupPrefix), byte(cs.CurveID>>8), byte(cs.CurveID)))
		}
		ticket, err := cfg.EncryptTicket(cs, ss)
		if err == nil && len(ticket) > maxTicket {
			return unresumableTicket()
		}
		return ticket, err
	}
	cfg.UnwrapSession = func(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := cfg.DecryptTicket(ticket, cs)
		if err != nil || ss == nil {
			return nil, err // nil, nil: not one of ours, a full handshake
		}
		if cs.Version < tls.VersionTLS13 && !ticketGroupAllowed(ss, cfg.CurvePreferences) {
			return nil, nil
		}
		if requested && !slices.ContainsFunc(ss.Extra, func(e []byte) bool { return bytes.Equal(e, clientCertEntry(true)) }) {
			return nil, nil // a full handshake asks the client for its certificate
		}
		for _, e := range ss.Extra {
			if !bytes.HasPrefix(e, []byte(ticketBindingPrefix)) {
				continue
			}
			for _, id := range ids {
				if bytes.Equal(e, leafBinding(id)) {
					c.openedTicket(cs.Version, id)
					return ss, nil
				}
			}
		}
		return nil, nil // issued under an identity this server does not hold
	}
}

// openedTicket notes id, the identity of a ticket the server opened for a
// handshake of version. A ticket that opens may still not resume (its
// cipher suite, its extended master secret or its client certificate do
// not fit), and the handshake then presents the identity picked for the
// ClientHello. crypto/tls picks a TLS 1.3 certificate only once no ticket
// resumed, which makes it the connection's again: the ticket's is the
// connection's until then. It picks a TLS 1.2 certificate before it opens
// the ticket: the ticket's identity becomes the connection's once the
// handshake resumed (recordLocked, from VerifyConnection, before the next
// ticket is sealed). Made the connection's as it opened, the identity of
// a TLS 1.2 ticket that did not resume would not be the certificate
// presented: a client offering identity A's ticket under B's server name,
// with a cipher suite the server no longer takes, would be served B's
// certificate, the guest told it presented A, and the client given a
// ticket bound to A of a session authenticated as B, which a server
// holding A alone would then resume.
func (c *conn) openedTicket(version uint16, id *backends.Identity) {
	if version >= tls.VersionTLS13 {
		c.setLocal(id)
		return
	}
	c.mu.Lock()
	c.ticketID = id
	c.mu.Unlock()
}

// maxTicket is the longest ticket a crypto/tls client takes: it refuses
// handshake messages longer than 65,536 bytes, and a TLS 1.3
// NewSessionTicket holds 13 bytes beside its ticket (lifetime, age_add,
// crypto/tls's empty nonce, the ticket's length, no extensions; RFC 8446,
// Section 4.6.1), a TLS 1.2 one 6 (RFC 5077, Section 3.3). The ticket's
// length field holds 65,535: a ticket of 65,524 to 65,535 bytes went out
// and failed the client's connection as it read it.
const maxTicket = 1<<16 - 13

// unresumableTicket is the ticket sent for a session whose sealed state
// does not fit in a NewSessionTicket: a server asking for a client
// certificate seals the client's chain into the ticket, and a chain of
// 64 KiB or more (crypto/tls accepts Certificate messages of 256 KiB)
// failed the handshake. In TLS 1.3 crypto/tls failed the server's as it
// encoded the ticket, after the client's had completed; in TLS 1.2 it
// sent the message, which the client refused as longer than a
// handshake message may be. Random bytes, which DecryptTicket does not
// open: the client's next connection makes a full handshake, which sees
// its chain again.
func unresumableTicket() ([]byte, error) {
	ticket := make([]byte, 256)
	if _, err := rand.Read(ticket); err != nil {
		return nil, err
	}
	return ticket, nil
}

// clientCertEntry is the Extra entry saying whether the session's client
// presented a certificate.
func clientCertEntry(presented bool) []byte {
	if presented {
		return []byte(ticketClientCertPrefix + "1")
	}
	return []byte(ticketClientCertPrefix + "0")
}

func leafBinding(id *backends.Identity) []byte {
	h := sha256.Sum256(id.Chain[0])
	return append([]byte(ticketBindingPrefix), h[:]...)
}

// ticketGroupAllowed reports whether a TLS 1.2 session, whose ticket
// names the group of the handshake that made it, may resume under groups
// (nil: crypto/tls's, which hold every group TLS 1.2 uses).
func ticketGroupAllowed(ss *tls.SessionState, groups []tls.CurveID) bool {
	if groups == nil {
		return true
	}
	for _, e := range ss.Extra {
		if g, ok := bytes.CutPrefix(e, []byte(ticketGroupPrefix)); ok && len(g) == 2 {
			group := tls.CurveID(g[0])<<8 | tls.CurveID(g[1])
			return group == 0 || slices.Contains(groups, group)
		}
	}
	return false // not made by this backend's WrapSession
}
