package backends

import (
	"bytes"
	"crypto/x509"
)

// Chain names.
//
// Picking an identity for a certificate request looks the issuer and
// subject names of the certificates of each offered chain up among the
// peer's acceptable CAs. Parsing every certificate of every identity at
// every request cost a client that offers thousands of identities tens
// of milliseconds per request (a server may send several), on the
// handshake's goroutine. An identity keeps the names instead, read from
// its chain the first time they are wanted: where they are in the DER
// (20 bytes a certificate that parses, which takes well over a hundred
// bytes of chain, and less than the parsed leaf every identity holds).
// Identities are shared by concurrent connections: the names are kept
// behind an atomic value, and are read again when Chain is no longer the
// chain they were read from (a copy of an identity given a new chain, or
// an element of Chain given another certificate).

// chainNames are the names of a chain's certificates.
type chainNames struct {
	// chain is the chain the names were read from.
	chain [][]byte
	// elems are where its elements' bytes start, nil for an empty one:
	// an element given another certificate is told apart (8 bytes an
	// element, within the identity bytes the host counts for each).
	elems []*byte
	// certs are the certificates that crypto/x509 parses, in order.
	certs []certNames
	// parsed is how many certificates, from the leaf, parse.
	parsed int
}

// certNames are where a certificate's raw names are in its DER.
type certNames struct {
	index           uint32 // in the chain
	subject, issuer [2]uint32
}

// names returns the names of id's chain.
func (id *Identity) names() *chainNames {
	if n, _ := id.chainNames.Load().(*chainNames); n != nil && n.of(id.Chain) {
		return n
	}
	n := readChainNames(id.Chain, id.Leaf)
	id.chainNames.Store(n)
	return n
}

// of reports whether n was read from chain, whose elements are the ones
// n's offsets point into.
func (n *chainNames) of(chain [][]byte) bool {
	if len(chain) != len(n.chain) || len(chain) > 0 && &chain[0] != &n.chain[0] {
		return false
	}
	for i, e := range n.elems {
		if first(chain[i]) != e {
			return false
		}
	}
	for _, c := range n.certs {
		if int(c.subject[1]) > len(chain[c.index]) || int(c.issuer[1]) > len(chain[c.index]) {
			return false
		}
	}
	return true
}

func readChainNames(chain [][]byte, leaf *x509.Certificate) *chainNames {
	n := &chainNames{chain: chain, elems: make([]*byte, len(chain)), parsed: len(chain)}
	for i, der := range chain {
		n.elems[i] = first(der)
		cert := leaf
		if i != 0 || cert == nil {
			var err error
			if cert, err = x509.ParseCertificate(der); err != nil {
				n.parsed = min(n.parsed, i)
				continue
			}
		}
		subject, okS := offsets(der, cert.RawSubject)
		issuer, okI := offsets(der, cert.RawIssuer)
		if !okS || !okI {
			// A leaf that is not the chain's.
			if cert, err := x509.ParseCertificate(der); err == nil {
				subject, okS = offsets(der, cert.RawSubject)
				issuer, okI = offsets(der, cert.RawIssuer)
			}
			if !okS || !okI {
				n.parsed = min(n.parsed, i)
				continue
			}
		}
		n.certs = append(n.certs, certNames{index: uint32(i), subject: subject, issuer: issuer})
	}
	n.certs = n.certs[:len(n.certs):len(n.certs)]
	return n
}

// first is where b's bytes start, nil if it has none.
func first(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

// offsets returns where sub, a part of der as crypto/x509 parsed it,
// is in der: the first place its bytes are, which are the same bytes.
func offsets(der, sub []byte) ([2]uint32, bool) {
	off := bytes.Index(der, sub)
	if off < 0 || len(sub) == 0 {
		return [2]uint32{}, false
	}
	return [2]uint32{uint32(off), uint32(off + len(sub))}, true
}

// IssuedByOneOf reports whether a certificate of id's chain names one of
// cas as its issuer, as crypto/tls's CertificateRequestInfo
// SupportsCertificate checks it: a certificate that does not parse fails
// the rest of the chain.
func (id *Identity) IssuedByOneOf(cas NameSet) bool {
	n := id.names()
	for _, c := range n.certs {
		if int(c.index) >= n.parsed {
			break
		}
		if cas.Has(id.Chain[c.index][c.issuer[0]:c.issuer[1]]) {
			return true
		}
	}
	return false
}

// NamesOneOf reports whether a certificate of id's chain is issued by or
// is one of cas: its issuer or its subject is one of them. Certificates
// that do not parse are passed over.
func (id *Identity) NamesOneOf(cas NameSet) bool {
	n := id.names()
	for _, c := range n.certs {
		der := id.Chain[c.index]
		if cas.Has(der[c.issuer[0]:c.issuer[1]]) || cas.Has(der[c.subject[0]:c.subject[1]]) {
			return true
		}
	}
	return false
}
