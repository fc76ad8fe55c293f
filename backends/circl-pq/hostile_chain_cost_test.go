package circlpq

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// rsaDecoyChains are the costliest chains a peer can make crypto/x509
// check within the RSA key size bound (backends.DefaultMaxRSAKeyBits):
// a certificate "signed" by the name "rsaloop" with a garbage signature
// of an 8192-bit key's length, followed by 100 CA certificates of that
// name each holding an 8192-bit RSA key (no private key behind them).
// crypto/x509 tries each against the signature, a full RSA-8192
// verification each, until its own bound of 100 checks.
//
//   - classical: an ECDSA leaf signed so: what crypto/tls's one Verify
//     spends at most for a handshake.
//   - mldsa: an ML-DSA-signed leaf under the name "loop", then 10
//     certificates of that name holding the signing ML-DSA key, each
//     signed so: every path of the ML-DSA walk ends in a crypto/x509
//     Verify of such a certificate.
type rsaDecoyChains struct {
	classical, mldsa *testpki.Leaf
}

var (
	rsaDecoyOnce sync.Once
	rsaDecoy     rsaDecoyChains
	rsaDecoyErr  error
)

func hostileRSAChains(t testing.TB) rsaDecoyChains {
	t.Helper()
	rsaDecoyOnce.Do(func() { rsaDecoy, rsaDecoyErr = makeRSADecoyChains() })
	if rsaDecoyErr != nil {
		t.Fatal(rsaDecoyErr)
	}
	return rsaDecoy
}

func makeRSADecoyChains() (rsaDecoyChains, error) {
	var out rsaDecoyChains
	const bits = backends.DefaultMaxRSAKeyBits
	huge, err := testpki.HugeRSAKey(bits)
	if err != nil {
		return out, err
	}
	// The issuer of the forged signatures: a real RSA CA named "rsaloop",
	// whose 2048-bit signatures are then replaced by garbage of the huge
	// key's length, below its modulus so that verifying it runs in full.
	signer, err := testpki.NewCAWith("rsaloop", testpki.RSA2048)
	if err != nil {
		return out, err
	}
	garbage := make([]byte, bits/8)
	if _, err := rand.Read(garbage); err != nil {
		return out, err
	}
	garbage[0] = 0x01
	forge := func(l *testpki.Leaf) (*testpki.Leaf, error) {
		der, err := withSignature(l.Chain[0], garbage)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		return &testpki.Leaf{Cert: cert, Chain: [][]byte{der}, Key: l.Key}, nil
	}
	var decoys [][]byte
	now := time.Now()
	for i := range 100 {
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(1000 + i)),
			Subject:               pkix.Name{CommonName: "rsaloop", Organization: []string{"wasitls test PKI"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer.Cert, huge.Public(), signer.Key)
		if err != nil {
			return out, err
		}
		decoys = append(decoys, der)
	}

	leaf, err := signer.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "leaf", Usage: testpki.ServerAuth | testpki.ClientAuth})
	if err != nil {
		return out, err
	}
	if out.classical, err = forge(leaf); err != nil {
		return out, err
	}
	out.classical.Chain = append(out.classical.Chain, decoys...)

	ml, err := testpki.NewCAWith("loop", testpki.MLDSA44)
	if err != nil {
		return out, err
	}
	if out.mldsa, err = ml.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "leaf", Usage: testpki.ServerAuth | testpki.ClientAuth}); err != nil {
		return out, err
	}
	for range 10 {
		c, err := signer.Issue(testpki.LeafOptions{CommonName: "loop", DNSNames: []string{"loop.test"}, PrivateKey: ml.Key})
		if err != nil {
			return out, err
		}
		if c, err = forge(c); err != nil {
			return out, err
		}
		out.mldsa.Chain = append(out.mldsa.Chain, c.Chain[0])
	}
	out.mldsa.Chain = append(out.mldsa.Chain, decoys...)
	return out, nil
}

// withSignature returns a certificate with its signature replaced.
func withSignature(der, sig []byte) ([]byte, error) {
	s := cryptobyte.String(der)
	var c cryptobyte.String
	var tbs, alg cryptobyte.String
	if !s.ReadASN1(&c, cryptobyte_asn1.SEQUENCE) || !c.ReadASN1Element(&tbs, cryptobyte_asn1.SEQUENCE) ||
		!c.ReadASN1Element(&alg, cryptobyte_asn1.SEQUENCE) {
		return nil, errMalformedCert
	}
	return certificateDER(tbs, alg, sig)
}

// certificateDER assembles a Certificate from its DER TBSCertificate and
// signatureAlgorithm and its signature (RFC 5280, Section 4.1).
func certificateDER(tbs, alg, sig []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

var errMalformedCert = x509.CertificateInvalidError{Detail: "malformed test certificate"}

// BenchmarkHostileChainCost is what one handshake with a server
// presenting the costliest chain within the RSA key size bound costs a
// client (rsaDecoyChains): this engine's client on the chain with ML-DSA
// signatures, whose walk may call crypto/x509 several times, against
// crypto/tls's client on the classical chain (its one Verify), alternated
// in one loop. It reports the time of each and their ratio:
//
//	go test ./backends/circl-pq -run '^$' -bench HostileChainCost -benchtime 10x -count 3
func BenchmarkHostileChainCost(b *testing.B) {
	p := pki(b)
	chains := hostileRSAChains(b)
	var goTime, engineTime time.Duration
	for b.Loop() {
		craw, sraw := tcpPair(b)
		c := tls.Client(craw, p.goClientConfig())
		_, shs := engineServer(b, sraw, &backends.ServerConfig{Identities: []*backends.Identity{chains.classical.Identity()}})
		start := time.Now()
		cerr, _ := both(c.Handshake, shs)
		goTime += time.Since(start)
		if cerr == nil {
			b.Fatal("crypto/tls accepted the chain")
		}
		craw.Close()
		sraw.Close()

		craw, sraw = tcpPair(b)
		_, chs := engineClient(b, craw, p.clientConfig())
		_, shs = engineServer(b, sraw, &backends.ServerConfig{Identities: []*backends.Identity{chains.mldsa.Identity()}})
		start = time.Now()
		cerr, _ = both(chs, shs)
		engineTime += time.Since(start)
		if cerr == nil {
			b.Fatal("the engine accepted the chain")
		}
		craw.Close()
		sraw.Close()
	}
	b.ReportMetric(float64(goTime.Milliseconds())/float64(b.N), "go-ms/op")
	b.ReportMetric(float64(engineTime.Milliseconds())/float64(b.N), "engine-ms/op")
	b.ReportMetric(float64(engineTime)/float64(goTime), "engine/go")
	b.ReportMetric(0, "ns/op")
}
