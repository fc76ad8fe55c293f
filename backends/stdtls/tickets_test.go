package stdtls_test

import (
	"io"
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
			go func() { server.Write([]byte{1}); io.Copy(io.Discard, server) }()
			if _, err := io.ReadFull(client, make([]byte, 1)); err != nil {
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
