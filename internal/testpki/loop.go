package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"math/big"
)

// LoopChain returns what a hostile peer presents to make chain building
// explore every path: a leaf with an ECDSA P-256 key, for the given options
// (Key and PrivateKey are ignored), signed by an ML-DSA-44 key under the
// issuer name "loop", followed by n certificates named "loop", issued by
// "loop", each holding that key and signed by it. Each signs the leaf and
// every other, so a validator that tries every ordering of them does n!
// signature checks; none leads to a trust anchor.
func LoopChain(n int, leaf LeafOptions) (*Leaf, error) {
	ca, err := NewCAWith("loop", MLDSA44)
	if err != nil {
		return nil, err
	}
	leaf.Key, leaf.PrivateKey = ECDSAP256, nil
	l, err := ca.Issue(leaf)
	if err != nil {
		return nil, err
	}
	for range n {
		c, err := ca.Issue(LeafOptions{CommonName: "loop", DNSNames: []string{"loop.test"}, PrivateKey: ca.Key})
		if err != nil {
			return nil, err
		}
		l.Chain = append(l.Chain, c.Chain[0])
	}
	return l, nil
}

// HugeRSAKey returns what a hostile peer presents to make its victim spend
// CPU on one signature: an RSA public key of the given size, with no
// private key behind it. Its Sign returns garbage of the right length,
// which the victim finds out only after the costly verification
// (CVE-2023-29409). Issue a leaf with it as LeafOptions.PrivateKey: the
// certificate is signed by the CA as usual.
func HugeRSAKey(bits int) (crypto.Signer, error) {
	if bits < 1024 {
		return nil, fmt.Errorf("testpki: HugeRSAKey(%d): want at least 1024 bits", bits)
	}
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	if err != nil {
		return nil, err
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	return hugeRSAKey{&rsa.PublicKey{N: n, E: 65537}}, nil
}

type hugeRSAKey struct{ pub *rsa.PublicKey }

func (k hugeRSAKey) Public() crypto.PublicKey { return k.pub }

func (k hugeRSAKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	sig := make([]byte, k.pub.Size())
	sig[len(sig)-1] = 7
	return sig, nil
}
