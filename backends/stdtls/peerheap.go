package stdtls

import (
	"crypto/x509"
	"runtime"
	"sync"
	"weak"

	"github.com/wasitls/wasitls/backends"
)

// The peer chain's heap bytes, once per parsed chain.
//
// A client counts what the server's parsed chain holds on the heap
// (countPeerHeap) on every handshake, a walk of every allocation the
// chain reaches: for one ECDSA P-256 certificate about 3 µs and 8
// objects, 1.3-1.5% of the CPU of a C guest's client handshake on stdtls
// in a profile, the largest piece of the host's own code in it.
// crypto/tls parses a server's certificates once for as long as any
// connection holds them (its client certificate cache hands out the same
// *x509.Certificate for the same DER), and a parsed certificate never
// changes, so the walk of a chain gives the same count every time its
// certificates are the same objects. peerHeapMemo keeps that count by the
// chain's leaf, with the rest of the chain to compare, until the leaf is
// collected: the count is the one the walk gives, never less. Like
// crypto/tls's cache, it is one for the whole process. Only
// clients look it up; a server's crypto/tls parses each client's chain
// anew, which would only fill it.

// peerHeapMemo is the count of each chain still in memory, by its leaf.
var peerHeapMemo chainHeapMemo

type chainHeapMemo struct {
	mu sync.Mutex
	m  map[weak.Pointer[x509.Certificate]]chainHeap
}

// chainHeap is the count of one chain: its certificates after the leaf,
// weakly, the capacity of the slice that held them (the walk counts its
// array), and backends.HeapBytes of the chain.
type chainHeap struct {
	rest []weak.Pointer[x509.Certificate]
	cap  int
	n    int64
}

// chainHeapBytes returns backends.HeapBytes(certs, rawChain(certs)...),
// computed once for a chain of the same certificates while its leaf is
// in memory. certs is not empty.
func (h *chainHeapMemo) chainHeapBytes(certs []*x509.Certificate) int64 {
	leaf := weak.Make(certs[0])
	h.mu.Lock()
	e, ok := h.m[leaf]
	h.mu.Unlock()
	if ok && e.is(certs) {
		return e.n
	}
	e = chainHeap{cap: cap(certs), n: backends.HeapBytes(certs, rawChain(certs)...)}
	for _, c := range certs[1:] {
		e.rest = append(e.rest, weak.Make(c))
	}
	h.mu.Lock()
	if h.m == nil {
		h.m = map[weak.Pointer[x509.Certificate]]chainHeap{}
	}
	if _, had := h.m[leaf]; !had {
		runtime.AddCleanup(certs[0], h.forget, leaf)
	}
	h.m[leaf] = e
	h.mu.Unlock()
	return e.n
}

// forget drops the count of a chain whose leaf was collected.
func (h *chainHeapMemo) forget(leaf weak.Pointer[x509.Certificate]) {
	h.mu.Lock()
	delete(h.m, leaf)
	h.mu.Unlock()
}

// is reports whether certs, whose leaf is e's, is the chain e counted.
func (e chainHeap) is(certs []*x509.Certificate) bool {
	if len(certs) != len(e.rest)+1 || cap(certs) != e.cap {
		return false
	}
	for i, c := range certs[1:] {
		if e.rest[i].Value() != c {
			return false
		}
	}
	return true
}

// len is how many chains the memo holds.
func (h *chainHeapMemo) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}
