package stdtls

import (
	"bytes"
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

var errNoTicketIdentity = errors.New("stdtls: no server identity to bind a session ticket to")

// bindTickets makes cfg seal and open its tickets (with its own keys)
// bound to the identity presented, among ids.
func (c *conn) bindTickets(cfg *tls.Config, ids []*backends.Identity) {
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		c.mu.Lock()
		id := c.state.LocalIdentity
		c.mu.Unlock()
		if id == nil || len(id.Chain) == 0 {
			return nil, errNoTicketIdentity
		}
		ss.Extra = slices.DeleteFunc(ss.Extra, func(e []byte) bool { return bytes.HasPrefix(e, []byte(ticketBindingPrefix)) })
		ss.Extra = append(ss.Extra, leafBinding(id))
		return cfg.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := cfg.DecryptTicket(ticket, cs)
		if err != nil || ss == nil {
			return nil, err // nil, nil: not one of ours, a full handshake
		}
		for _, e := range ss.Extra {
			if !bytes.HasPrefix(e, []byte(ticketBindingPrefix)) {
				continue
			}
			for _, id := range ids {
				if bytes.Equal(e, leafBinding(id)) {
					c.setLocal(id)
					return ss, nil
				}
			}
		}
		return nil, nil // issued under an identity this server does not hold
	}
}

func leafBinding(id *backends.Identity) []byte {
	h := sha256.Sum256(id.Chain[0])
	return append([]byte(ticketBindingPrefix), h[:]...)
}
