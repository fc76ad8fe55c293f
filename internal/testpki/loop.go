package testpki

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
