package stdtls

import (
	"slices"
	"testing"
)

// TestPickALPN: the list of one that clientHello leaves crypto/tls for
// long lists negotiates what the whole list would: the server's first ID
// the client offers; with none in common, h2 for an http/1.1 client
// (crypto/tls lets it through without ALPN), else an ID the client did
// not offer (the handshake fails).
func TestPickALPN(t *testing.T) {
	for _, c := range []struct {
		server, client, want []string
	}{
		{[]string{"a", "b", "c"}, []string{"c", "b"}, []string{"b"}},
		{[]string{"a", "b"}, []string{"x", "a"}, []string{"a"}},
		{[]string{"a", "h2"}, []string{"x", "http/1.1"}, []string{"h2"}},
		{[]string{"a", "h2"}, []string{"x", "h2", "http/1.1"}, []string{"h2"}},
		{[]string{"a", "b"}, []string{"x", "http/1.1"}, []string{"a"}},
		{[]string{"a", "b"}, []string{"x"}, []string{"a"}},
	} {
		if got := pickALPN(c.server, c.client); !slices.Equal(got, c.want) {
			t.Errorf("pickALPN(%q, %q) = %q, want %q", c.server, c.client, got, c.want)
		}
	}
}
