package backends

import "crypto/x509"

// MaxCANames is the most bytes the names of a server's ClientCAs may take,
// each with its 2-byte length, for the server to name them in its
// CertificateRequest (certificate_authorities: RFC 8446, Section 4.2.4;
// RFC 5246, Section 7.4.4): the list's length prefix holds 65,535 bytes,
// and the message's other fields must fit beside it in the 65,536 bytes
// crypto/tls's client (among others) takes of a handshake message. Some
// 500 CAs take more.
const MaxCANames = 0xffff - 512

// CANames returns the DER subjects of pool for a server's
// CertificateRequest to name, or nil when they take more than MaxCANames
// bytes: the request then names none, which both RFCs allow, and the
// server verifies the client's chain against pool all the same. The
// subjects are pool's own, read only; CANames allocates only the list
// (24 bytes a CA) and reads each name's length, so that a backend can
// call it at every request without caching anything about a pool its
// embedder may still change.
func CANames(pool *x509.CertPool) [][]byte {
	if pool == nil {
		return nil
	}
	//lint:ignore SA1019 Subjects is fine for pools built from certificates.
	names := pool.Subjects()
	n := 0
	for _, s := range names {
		if n += 2 + len(s); n > MaxCANames {
			return nil
		}
	}
	return names
}

// A NameSet is a set of DER distinguished names, a peer's acceptable CAs
// say, that a backend looks a certificate's issuer up in rather than
// comparing it with each: a guest may offer some 40,000 identities within
// its identity bytes and a peer name some 20,000 CAs.
type NameSet map[string]struct{}

// NewNameSet returns the set of names.
func NewNameSet(names [][]byte) NameSet {
	s := make(NameSet, len(names))
	for _, n := range names {
		s[string(n)] = struct{}{}
	}
	return s
}

// Has reports whether name is in s.
func (s NameSet) Has(name []byte) bool {
	_, ok := s[string(name)]
	return ok
}
