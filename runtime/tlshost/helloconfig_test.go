package tlshost

import (
	"slices"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// TestServerHelloKeepsUnchangedConfig: the ClientHello hook hands the
// backend a replacement configuration only when the guest changed a
// setting after the backend's connection was made with the first, so
// that a server configured before finish (every guest that does not
// stop at the hello) does not have its backend build its configuration
// twice. A change at the hello, and a client certificate requested
// there, still reach the handshake.
func TestServerHelloKeepsUnchangedConfig(t *testing.T) {
	id1 := &backends.Identity{Chain: [][]byte{[]byte("one")}}
	id2 := &backends.Identity{Chain: [][]byte{[]byte("two")}}
	cases := []struct {
		name     string
		atHello  func(t *testing.T, s *serverSession) // nil: finish without stopping at the hello
		replaced bool
		want     string // the backend's server hello event
		local    *backends.Identity
	}{
		{name: "configured before finish", replaced: false, want: "server hello alpn=[h2] ids=1 auth=0", local: id1},
		{name: "stopped at the hello, nothing changed", atHello: func(*testing.T, *serverSession) {}, replaced: false, want: "server hello alpn=[h2] ids=1 auth=0", local: id1},
		{name: "identities changed at the hello", atHello: func(t *testing.T, s *serverSession) {
			if err := s.ConfigureIdentities([]*backends.Identity{id2}); err != nil {
				t.Fatal(err)
			}
		}, replaced: true, want: "server hello alpn=[h2] ids=1 auth=0", local: id2},
		{name: "client identity requested at the hello", atHello: func(t *testing.T, s *serverSession) {
			if _, err := s.RequestClientIdentity(); err != nil {
				t.Fatal(err)
			}
		}, replaced: true, want: "server hello alpn=[h2] ids=1 auth=1", local: id1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNoLeak(t)
			b := &fakeBackend{clientChain: [][]byte{[]byte("client")}}
			s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
			defer s.Close()
			if err := s.Accept(); err != nil {
				t.Fatal(err)
			}
			if err := s.ConfigureIdentities([]*backends.Identity{id1}); err != nil {
				t.Fatal(err)
			}
			if err := s.ConfigureALPN([][]byte{[]byte("h2")}); err != nil {
				t.Fatal(err)
			}
			if c.atHello != nil {
				hf, err := s.ReceiveClientHello()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := await(t, hf); err != nil {
					t.Fatal(err)
				}
				c.atHello(t, s)
			}
			conn, err := await(t, s.Finish())
			if err != nil {
				t.Fatal(err)
			}
			if st := conn.State(); st.LocalIdentity != c.local || st.ALPN != "h2" {
				t.Fatalf("state: %+v", st)
			}
			b.mu.Lock()
			replaced := slices.Clone(b.replaced)
			b.mu.Unlock()
			if !slices.Equal(replaced, []bool{c.replaced}) {
				t.Fatalf("the hook returned a replacement: %v, want [%v]", replaced, c.replaced)
			}
			if ev := b.Events(); !slices.Contains(ev, c.want) {
				t.Fatalf("events %q lack %q", ev, c.want)
			}
		})
	}
}
