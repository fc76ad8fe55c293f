package identity

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"runtime"
	"sync"
	"weak"
)

// Trust anchors a backend can find again.
//
// A backend that checks signatures crypto/x509 cannot (ML-DSA with Go 1.26)
// builds chains itself, and needs the root certificates of the configured
// [x509.CertPool]; a CertPool cannot be listed. Hosts that build pools with
// [AddTrustAnchor] or [AppendTrustAnchorsFromPEM] instead of the CertPool
// methods make their certificates findable with [TrustAnchors]. The pool
// itself is unchanged: crypto/x509 and backends that only use it see the
// same pool either way.
//
// The register is process-wide and keyed by subject; a registered
// certificate counts for a pool only if that pool holds it, so registering
// never widens what a pool trusts.

var anchors struct {
	sync.Mutex
	bySubject map[string][]*x509.Certificate
}

// AddTrustAnchor adds cert to pool and registers it for [TrustAnchors].
func AddTrustAnchor(pool *x509.CertPool, cert *x509.Certificate) {
	pool.AddCert(cert)
	anchors.Lock()
	defer anchors.Unlock()
	if anchors.bySubject == nil {
		anchors.bySubject = make(map[string][]*x509.Certificate)
	}
	key := string(cert.RawSubject)
	for _, c := range anchors.bySubject[key] {
		if bytes.Equal(c.Raw, cert.Raw) {
			return
		}
	}
	anchors.bySubject[key] = append(anchors.bySubject[key], cert)
}

// AppendTrustAnchorsFromPEM is [x509.CertPool.AppendCertsFromPEM] that
// also registers the certificates for [TrustAnchors]. It reports whether
// any certificate was added. Certificates crypto/x509 cannot parse are
// skipped, as AppendCertsFromPEM skips them.
func AppendTrustAnchorsFromPEM(pool *x509.CertPool, pemCerts []byte) bool {
	ok := false
	for len(pemCerts) > 0 {
		var block *pem.Block
		block, pemCerts = pem.Decode(pemCerts)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		AddTrustAnchor(pool, cert)
		ok = true
	}
	return ok
}

// TrustAnchors returns the registered certificates with the given raw
// subject that pool holds. A nil pool (the system roots) has none.
func TrustAnchors(pool *x509.CertPool, rawSubject []byte) []*x509.Certificate {
	if pool == nil {
		return nil
	}
	anchors.Lock()
	candidates := append([]*x509.Certificate(nil), anchors.bySubject[string(rawSubject)]...)
	anchors.Unlock()
	var out []*x509.Certificate
	for _, c := range candidates {
		if poolContains(pool, c) {
			out = append(out, c)
		}
	}
	return out
}

// poolContains reports whether pool holds cert exactly: adding a
// certificate a pool already holds leaves it equal to itself. The answer
// is remembered per pool (see held), so that looking a pool up again
// allocates nothing: a CertPool only grows, so that it held cert stays
// true, and that it did not stays true as long as the pool is equal to a
// copy made then (Equal allocates nothing).
func poolContains(pool *x509.CertPool, cert *x509.Certificate) bool {
	key := weak.Make(pool)
	held.Lock()
	defer held.Unlock()
	e := held.pools[key]
	if e == nil {
		if held.pools == nil {
			held.pools = make(map[weak.Pointer[x509.CertPool]]*poolHeld)
		}
		e = &poolHeld{in: make(map[*x509.Certificate]bool)}
		held.pools[key] = e
		runtime.AddCleanup(pool, forgetPool, key)
	}
	in, known := e.in[cert]
	if known && (in || e.snapshot.Equal(pool)) {
		return in
	}
	probe := pool.Clone()
	probe.AddCert(cert)
	in = probe.Equal(pool)
	if !in && (e.snapshot == nil || !e.snapshot.Equal(pool)) {
		// The pool grew since what it did not hold was found.
		for c, was := range e.in {
			if !was {
				delete(e.in, c)
			}
		}
		e.snapshot = pool.Clone()
	}
	e.in[cert] = in
	return in
}

// held remembers, per pool (weakly: a pool that is gone is forgotten),
// which registered certificates it holds.
var held struct {
	sync.Mutex
	pools map[weak.Pointer[x509.CertPool]]*poolHeld
}

// poolHeld is what held knows of one pool: the registered certificates
// it holds (true, for good) and does not hold (false, while the pool is
// equal to snapshot, a copy made when they were found).
type poolHeld struct {
	snapshot *x509.CertPool
	in       map[*x509.Certificate]bool
}

// forgetPool is the cleanup of a pool held knows.
func forgetPool(key weak.Pointer[x509.CertPool]) {
	held.Lock()
	delete(held.pools, key)
	held.Unlock()
}
