package tlshost_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// The upstream draft (wasi:tls/types@0.2.0-draft) from a hostile guest
// (testdata/drafthostile), on both backends.

const draftHostile = "./testdata/drafthostile"

// TestGuestDraftCloseOutputStuck: a guest fills its output to a peer
// that completed the handshake and reads nothing, then calls the draft's
// close-output. The call returns once the host's bound on its flush is
// over, the output stream reports it closed, and the guest ends normally.
// Before, the bound running out ended the guest (the flush's wait took it
// for the guest's own context ending: "module closed with context
// deadline exceeded").
func TestGuestDraftCloseOutputStuck(t *testing.T) {
	const bound = 2 * time.Second
	tlshost.SetCloseFlushTimeout(t, bound)
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, release := stuckTLSServer(t, p.local.TLSCertificate())
		defer release()
		out, err := startGuest(t, backend, p, draftHostile, nil, "close-output-stuck", "localhost", port).exitWithin(20 * time.Second)
		if err != nil {
			t.Fatalf("the guest did not end normally: %v", err)
		}
		mustContain(t, out, "check-write after close-output: ", "done")
		if strings.Contains(out, "check-write after close-output: ok") {
			t.Errorf("the output stream still takes writes after close-output:\n%s", out)
		}
		m := regexp.MustCompile(`close-output returned after (\S+)\n`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no close-output:\n%s", out)
		}
		took, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		// The bound and the bounded close after it (closeGrace, twice),
		// with room for a loaded machine.
		if took < bound-time.Second || took > bound+3*time.Second {
			t.Errorf("close-output took %v, bound %v:\n%s", took, bound, out)
		}
	})
}
