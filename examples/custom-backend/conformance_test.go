package custombackend

import (
	"log/slog"
	"testing"

	"github.com/wasitls/wasitls/backends/conformance"
)

// TestConformance runs the suite every backend runs over the allow-list
// backend, as docs/tls.md asks of a backend of your own. The allow-list
// holds the names the suite uses, the address it dials by and "" (a
// ClientHello without server_name, which a client sends for an address).
func TestConformance(t *testing.T) {
	conformance.Run(t, New(nil, []string{"a.test", "b.test", "c.test", "127.0.0.1", ""}, slog.New(slog.DiscardHandler)))
}
