package stdtls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestTicketsBoundToIdentity: servers sharing ticket keys resume a ticket
// only when they hold the identity it was issued under; a resumed server
// reports that identity as its own. Tickets sealed with a key the server no
// longer holds, or issued without keys, do not resume. TLS 1.3 and 1.2.
func TestTicketsBoundToIdentity(t *testing.T) {
	f := newFixture(t)
	other, err := f.ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := f.server.Identity(), other.Identity()
	key := func(b byte) func() []backends.TicketKey {
		return func() []backends.TicketKey { return []backends.TicketKey{{b}} }
	}
	for _, version := range []uint16{0x0304, 0x0303} {
		cache := backends.NewLRUSessionCache(4)
		for i, step := range []struct {
			name   string
			ids    []*backends.Identity
			keys   func() []backends.TicketKey
			resume bool
		}{
			{"issued under A", []*backends.Identity{idA}, key(1), false},
			{"a server holding only B", []*backends.Identity{idB}, key(1), false},
			{"issued under A again", []*backends.Identity{idA}, key(1), false},
			{"a server holding B and A", []*backends.Identity{idB, idA}, key(1), true},
			{"another key", []*backends.Identity{idA}, key(2), false},
			{"no keys", []*backends.Identity{idA}, nil, false},
		} {
			cc, sc := f.configs()
			cc.Sessions, cc.Versions = cache, []uint16{version}
			sc.Identities, sc.TicketKeys = step.ids, step.keys
			client, server, cerr, serr := handshake(t, cc, sc)
			if cerr != nil || serr != nil {
				t.Fatalf("%#x %d %s: client %v, server %v", version, i, step.name, cerr, serr)
			}
			// The client reads the tickets on its way to the server's byte.
			if err := serverByte(client, server); err != nil {
				t.Fatal(err)
			}
			st := server.State()
			if client.State().DidResume != step.resume || st.DidResume != step.resume {
				t.Errorf("%#x %d %s: resumed %v / %v, want %v", version, i, step.name, client.State().DidResume, st.DidResume, step.resume)
			}
			if step.resume && st.LocalIdentity != idA {
				t.Errorf("%#x %d %s: the resumed server presents %v, want identity A", version, i, step.name, st.LocalIdentity)
			}
		}
	}
}

// TestTLS12ResumptionKeepsGroups: a TLS 1.2 resumption runs no key
// exchange, so a client or a server whose groups were narrowed resumes
// only sessions whose handshake used one of its groups, and otherwise
// makes a full handshake in its own; a TLS 1.3 one resumes (its key
// exchange is fresh). Before, both resumed the X25519 session a wider
// configuration made, and reported X25519 as the connection's group.
func TestTLS12ResumptionKeepsGroups(t *testing.T) {
	f := newFixture(t)
	keys := func() []backends.TicketKey { return []backends.TicketKey{{7}} }
	p256 := []uint16{uint16(tls.CurveP256)}
	wide := []uint16{uint16(tls.X25519), uint16(tls.CurveP256)}
	for _, side := range []string{"client", "server"} {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			cache := backends.NewLRUSessionCache(4)
			for i, step := range []struct {
				groups []uint16 // of the side narrowing
				resume bool
				group  tls.CurveID
			}{
				{nil, false, tls.X25519},                           // made with X25519
				{p256, version != tls.VersionTLS12, tls.CurveP256}, // narrowed to P-256
				{wide, true, 0},                                    // resumes whatever came before
			} {
				if version == tls.VersionTLS13 && i == 0 {
					step.group = 0 // X25519MLKEM768 or X25519: crypto/tls's choice
				}
				cc, sc := f.configs()
				cc.Sessions, sc.TicketKeys = cache, keys
				cc.Versions, sc.Versions = []uint16{version}, []uint16{version}
				if side == "client" {
					cc.Groups = step.groups
				} else {
					sc.Groups = step.groups
				}
				client, server, cerr, serr := handshake(t, cc, sc)
				if cerr != nil || serr != nil {
					t.Fatalf("%s %#x %d: client %v, server %v", side, version, i, cerr, serr)
				}
				// The client reads TLS 1.3 tickets on its way to the server's byte.
				if err := serverByte(client, server); err != nil {
					t.Fatal(err)
				}
				cs, ss := client.State(), server.State()
				if cs.DidResume != step.resume || ss.DidResume != step.resume {
					t.Errorf("%s %#x %d (groups %v): resumed %v / %v, want %v", side, version, i, step.groups, cs.DidResume, ss.DidResume, step.resume)
				}
				if step.group != 0 && (cs.Group != uint16(step.group) || ss.Group != uint16(step.group)) {
					t.Errorf("%s %#x %d (groups %v): group %#x / %#x, want %#x", side, version, i, step.groups, cs.Group, ss.Group, uint16(step.group))
				}
				if step.groups != nil && !slices.Contains(step.groups, cs.Group) {
					t.Errorf("%s %#x %d: the connection's group %#x is outside the %s's groups %#x", side, version, i, cs.Group, side, step.groups)
				}
			}
		}
	}
}

// TestTicketTooLongForChain: a server asking for a client certificate
// seals the client's chain into the session ticket, and a NewSessionTicket
// holds 65,535 bytes of ticket: a client presenting a chain a little
// larger (80 KB here; crypto/tls takes Certificate messages of 256 KiB)
// made the server's handshake fail as crypto/tls encoded the ticket
// ("cryptobyte: pending child length ... exceeds 2-byte length prefix"),
// after the client's had completed: it saw a truncated connection. In
// TLS 1.2 the client's failed ("handshake message of length 79127 bytes
// exceeds maximum of 65536 bytes"). Tickets being on by default, every guest server asking for client
// certificates refused such clients. The server now sends a ticket that
// resumes nothing instead: both handshakes complete, data flows, and the
// next connection makes a full handshake that sees the chain again. TLS
// 1.3 and 1.2.
func TestTicketTooLongForChain(t *testing.T) {
	f := newFixture(t)
	var emails []string
	for i := range 3000 {
		emails = append(emails, fmt.Sprintf("client-%04d@example.test", i))
	}
	big, err := f.ca.Issue(testpki.LeafOptions{CommonName: "big client", Usage: testpki.ClientAuth, EmailAddresses: emails})
	if err != nil {
		t.Fatal(err)
	}
	id := big.Identity()
	if n := len(id.Chain[0]); n < 70000 {
		t.Fatalf("the client's chain holds %d bytes; want more than a ticket can", n)
	}
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cache := backends.NewLRUSessionCache(4)
		for i := range 2 {
			cc, sc := f.configs()
			cc.Sessions, cc.Versions = cache, []uint16{version}
			cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
				return []*backends.Identity{id}, nil
			}
			sc.ClientAuth = backends.RequestClientCert
			sc.TicketKeys = func() []backends.TicketKey { return []backends.TicketKey{{9}} }
			client, server, cerr, serr := handshake(t, cc, sc)
			if cerr != nil || serr != nil {
				t.Fatalf("%#x connection %d: client %v, server %v", version, i, cerr, serr)
			}
			if err := serverByte(client, server); err != nil {
				t.Fatalf("%#x connection %d: read: %v", version, i, err)
			}
			st := server.State()
			if client.State().DidResume || st.DidResume {
				t.Errorf("%#x connection %d: resumed %v / %v; want full handshakes", version, i, client.State().DidResume, st.DidResume)
			}
			if len(st.PeerChain) != 1 || !bytes.Equal(st.PeerChain[0], id.Chain[0]) {
				t.Errorf("%#x connection %d: the server saw a chain of %d certificates, not the client's", version, i, len(st.PeerChain))
			}
		}
	}
}
