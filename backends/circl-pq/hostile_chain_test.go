package circlpq

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestHostileChainBounded presents chains of mutually signing ML-DSA
// certificates (testpki.LoopChain) to a client and to a server that requires a client
// certificate: each fails with bad_certificate within a bounded number of
// signature checks. Unbounded, 8 such certificates took 6.6 s and 20 would
// take days.
func TestHostileChainBounded(t *testing.T) {
	const n = 20
	p := pki(t)
	leaf, err := testpki.LoopChain(n, testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "leaf", Usage: testpki.ServerAuth | testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, err error, start time.Time) {
		t.Helper()
		if a, ok := errorAlert(err); !ok || a != alertBadCertificate || !strings.Contains(err.Error(), "signature checks") {
			t.Errorf("error %v; want bad_certificate after too many signature checks", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("validation took %v", d)
		}
	}
	t.Run("server-chain", func(t *testing.T) {
		start := time.Now()
		craw, sraw := tcpPair(t)
		_, chs := engineClient(t, craw, p.clientConfig())
		_, shs := engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{leaf.Identity()}})
		cerr, _ := both(chs, shs)
		check(t, cerr, start)
	})
	t.Run("client-chain", func(t *testing.T) {
		start := time.Now()
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{leaf.Identity()}, nil
		}
		// A root of the same name, which the client's certificates do
		// not chain to, makes the client present them.
		decoy, err := testpki.NewCAWith("loop", testpki.MLDSA44)
		if err != nil {
			t.Fatal(err)
		}
		sc := p.serverConfig(p.p256)
		sc.ClientAuth = backends.RequireClientCert
		sc.ClientCAs = decoy.Pool()
		_, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, sc)
		_, serr := both(chs, shs)
		check(t, serr, start)
	})
}
