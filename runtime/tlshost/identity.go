package tlshost

import (
	"context"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasi/tls/tls"
)

// privateIdentity is the private-identity resource: a handle to a key and
// chain held by the host. Nothing returns the key to the guest.
type privateIdentity struct {
	id *backends.Identity
}

var _ tls.PrivateIdentity = (*privateIdentity)(nil)

// PublicIdentity returns the certificate chain as a public-identity.
func (p *privateIdentity) PublicIdentity(context.Context) tls.PublicIdentity {
	return &publicIdentity{chain: p.id.Chain}
}

// Drop implements cabi.Resource. Connections that use the identity keep
// their own reference.
func (p *privateIdentity) Drop() {}

// publicIdentity is the public-identity resource: a DER chain, leaf first,
// never modified. One of a peer's shares the bytes its connection's backend
// read, and the count of them (peercertbytes.go), until dropped.
type publicIdentity struct {
	chain [][]byte
	hold  *peerHold // nil: not counted
}

var _ tls.PublicIdentity = (*publicIdentity)(nil)

// ExportX509Chain returns the DER certificates, leaf first.
func (p *publicIdentity) ExportX509Chain(context.Context) [][]byte { return cloneChain(p.chain) }

// Drop implements cabi.Resource: a peer's chain lets go of its share of
// the count.
func (p *publicIdentity) Drop() { p.hold.put() }

// identities unwraps borrowed private-identity resources. A value of
// another implementation (which the table's type check rules out) is
// skipped.
func identities(ids []tls.PrivateIdentity) []*backends.Identity {
	out := make([]*backends.Identity, 0, len(ids))
	for _, id := range ids {
		if p, ok := id.(*privateIdentity); ok {
			out = append(out, p.id)
		}
	}
	return out
}

// wrapIdentity returns the resource for a backend identity, or false.
func wrapIdentity(id *backends.Identity) (tls.PrivateIdentity, bool) {
	if id == nil {
		return nil, false
	}
	return &privateIdentity{id: id}, true
}

// wrapChain returns a public-identity for a peer's chain, which takes
// over its share of the count, or false when empty (the share goes back).
func wrapChain(pc *peerChain) (tls.PublicIdentity, bool) {
	if pc == nil {
		return nil, false
	}
	if len(pc.chain) == 0 {
		pc.put()
		return nil, false
	}
	return &publicIdentity{chain: pc.chain, hold: pc.hold}, true
}
