package backends_test

import (
	"sync"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestIdentityChainNames: an identity's names are its chain's, as
// parsing each certificate at each request found them, also for a copy
// given another chain and for connections that ask at once.
func TestIdentityChainNames(t *testing.T) {
	root, err := testpki.NewCAWith("names root", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewCAWith("names other", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(testpki.LeafOptions{CommonName: "names leaf"})
	if err != nil {
		t.Fatal(err)
	}
	rootName := [][]byte{root.Cert.RawSubject}
	otherName := [][]byte{other.Cert.RawSubject}
	leafName := [][]byte{leaf.Cert.RawSubject}
	id := &backends.Identity{Chain: [][]byte{leaf.Chain[0]}, Leaf: leaf.Cert, Key: leaf.Key}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if !id.IssuedByOneOf(backends.NewNameSet(rootName)) || !id.NamesOneOf(backends.NewNameSet(rootName)) {
				t.Error("the leaf's issuer is not found")
			}
		})
	}
	wg.Wait()
	if id.IssuedByOneOf(backends.NewNameSet(leafName)) || !id.NamesOneOf(backends.NewNameSet(leafName)) {
		t.Error("the leaf's subject: issued by it, or not named")
	}
	if id.IssuedByOneOf(backends.NewNameSet(otherName)) || id.NamesOneOf(backends.NewNameSet(otherName)) {
		t.Error("a CA the chain does not name is found")
	}

	// A copy with another chain has that chain's names; the original
	// keeps its own.
	cp := *id
	cp.Chain = [][]byte{leaf.Chain[0], other.Cert.Raw}
	if !cp.IssuedByOneOf(backends.NewNameSet(otherName)) || !cp.NamesOneOf(backends.NewNameSet(otherName)) {
		t.Error("a copy given another chain has the old chain's names")
	}
	if id.NamesOneOf(backends.NewNameSet(otherName)) {
		t.Error("the original has its copy's names")
	}

	// A certificate that does not parse ends the chain for
	// IssuedByOneOf (as crypto/tls checks a request), and is passed over
	// by NamesOneOf.
	bad := &backends.Identity{Chain: [][]byte{leaf.Chain[0], {0x30, 0x00}, other.Cert.Raw}, Leaf: leaf.Cert, Key: leaf.Key}
	if bad.IssuedByOneOf(backends.NewNameSet(otherName)) {
		t.Error("IssuedByOneOf looked past a certificate that does not parse")
	}
	if !bad.IssuedByOneOf(backends.NewNameSet(rootName)) || !bad.NamesOneOf(backends.NewNameSet(otherName)) {
		t.Error("the certificates that parse are not found")
	}

	// Without a parsed leaf the names are read from the chain.
	noLeaf := &backends.Identity{Chain: [][]byte{leaf.Chain[0]}, Key: leaf.Key}
	if !noLeaf.IssuedByOneOf(backends.NewNameSet(rootName)) {
		t.Error("an identity without a parsed leaf: its issuer is not found")
	}
}

// TestIdentityChainNamesElementReplaced: an element of Chain given
// another certificate in place (the same slice, of the same length) has
// that certificate's names, not the ones read before.
func TestIdentityChainNamesElementReplaced(t *testing.T) {
	root, err := testpki.NewCAWith("replaced root", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewCAWith("replaced other", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(testpki.LeafOptions{CommonName: "replaced leaf"})
	if err != nil {
		t.Fatal(err)
	}
	rootName := backends.NewNameSet([][]byte{root.Cert.RawSubject})
	otherName := backends.NewNameSet([][]byte{other.Cert.RawSubject})
	id := &backends.Identity{Chain: [][]byte{leaf.Chain[0], root.Cert.Raw}, Leaf: leaf.Cert, Key: leaf.Key}
	if !id.NamesOneOf(rootName) || id.NamesOneOf(otherName) {
		t.Fatal("the chain's names are not its own")
	}
	id.Chain[1] = other.Cert.Raw
	if !id.NamesOneOf(otherName) {
		t.Error("an element given another certificate keeps the names read before")
	}
	id.Chain[1] = []byte{0x30, 0x00}
	if id.NamesOneOf(otherName) {
		t.Error("an element given bytes that do not parse keeps the names read before")
	}
}
