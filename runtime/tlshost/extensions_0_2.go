package tlshost

import (
	"context"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// The functions wasitls:tls/extensions@0.2.0 adds to 0.1.0.

// AllowedAlgorithms is the host's ceiling (see ceiling): its own lists,
// or what the backend implements where it set none. A guest the host
// does not serve is trapped (see admit): the lists are another runtime's
// settings.
func (e extensionsHost) AllowedAlgorithms(ctx context.Context) extensions.Algorithms {
	e.h.admitCaller(ctx, "wasitls:tls/extensions#allowed-algorithms")
	base := e.h.cfg.options()
	c := newCeiling(e.h.backend, &base)
	return algorithms(c.versions, c.cipherSuites, c.groups)
}

// DefaultAlgorithms is what a connection uses when the guest configures
// nothing: the host's lists, or the backend's defaults where it set none.
// A guest the host does not serve is trapped, as by AllowedAlgorithms.
func (e extensionsHost) DefaultAlgorithms(ctx context.Context) extensions.Algorithms {
	e.h.admitCaller(ctx, "wasitls:tls/extensions#default-algorithms")
	var d backends.Algorithms
	if b, ok := e.h.backend.(backends.Describer); ok {
		d = b.Defaults()
	}
	c := e.h.cfg
	pick := func(h, b []uint16) []uint16 {
		if len(h) > 0 {
			return h
		}
		return b
	}
	return algorithms(pick(c.Versions, d.Versions), pick(c.CipherSuites, d.CipherSuites), pick(c.Groups, d.Groups))
}

// algorithms copies the lists, none of them nil, for the guest.
func algorithms(versions, suites, groups []uint16) extensions.Algorithms {
	cp := func(s []uint16) []uint16 { return append([]uint16{}, s...) }
	return extensions.Algorithms{Versions: cp(versions), CipherSuites: cp(suites), Groups: cp(groups)}
}

func (e extensionsHost) ClientHelloVersions(_ context.Context, hello extensions.ClientHello) []extensions.ProtocolVersion {
	return cloneSlice(hello.(*clientHello).h.Versions)
}

func (e extensionsHost) ClientHelloGroups(_ context.Context, hello extensions.ClientHello) []extensions.NamedGroup {
	return cloneSlice(hello.(*clientHello).h.Groups)
}

func (e extensionsHost) ClientHelloSignatureSchemes(_ context.Context, hello extensions.ClientHello) []extensions.SignatureScheme {
	return cloneSlice(hello.(*clientHello).h.SignatureSchemes)
}

func (e extensionsHost) ClientIdentityRequestSignatureSchemes(_ context.Context, r extensions.ClientIdentityRequest) []extensions.SignatureScheme {
	return cloneSlice(r.(*identityRequest).r.req.SignatureSchemes)
}

func (e extensionsHost) ClientIdentityRequestAuthorities(_ context.Context, r extensions.ClientIdentityRequest) [][]byte {
	return r.(*identityRequest).r.req.acceptableCAs.bytes()
}

// ParsePrivateIdentity is private-identity.parse with the backend's reason
// as the error string.
func (e extensionsHost) ParsePrivateIdentity(ctx context.Context, key []byte, chain [][]byte) (extensions.PrivateIdentity, error) {
	id, err := e.h.PrivateIdentityParse(ctx, key, chain)
	if err != nil {
		return nil, err
	}
	return id, nil
}
