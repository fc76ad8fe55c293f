package tlshost

import (
	"context"
	"fmt"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// HostIdentity is host-identity: a private-identity handle to the identity
// the host holds under name, if the guest may use it (WithIdentities).
// Each call gives a new handle to the same identity; the key stays in the
// host.
func (e extensionsHost) HostIdentity(ctx context.Context, name string) (extensions.PrivateIdentity, bool) {
	g := e.h.guest(ctx, "wasitls:tls/extensions#host-identity")
	scope, ok := g.Value(identityScopeKey{e.h}).(identityScope)
	if !ok {
		// A host registered by the embedder (Register) makes no
		// guest's state: the call's context carries the instantiation's.
		scope, ok = ctx.Value(identityScopeCtxKey{}).(identityScope)
	}
	if ok && !scope[name] {
		return nil, false // as for a name the host does not hold: the guest learns nothing of others'
	}
	id, ok := e.h.cfg.Identities[name]
	if !ok || id == nil {
		return nil, false
	}
	return &privateIdentity{id: id}, true
}

// WithIdentities returns ctx for instantiating guests
// (runtime.Runtime.Instantiate, InstantiateComponent, RunComponent) that
// may use only the host identities named (host-identity), of
// Config.Identities: for any other name, held or not, host-identity
// answers none, as for a name the host does not hold. Without it, a guest
// may use every identity of Config.Identities. An embedder running
// guests of several tenants under one host gives each tenant's guests its
// own names, so that none serves or authenticates as another's.
func WithIdentities(ctx context.Context, names ...string) context.Context {
	scope := identityScope{}
	for _, n := range names {
		scope[n] = true
	}
	return context.WithValue(ctx, identityScopeCtxKey{}, scope)
}

// An identityScope is the host identities a guest may use, by name.
type identityScope map[string]bool

// identityScopeCtxKey carries an identityScope in an instantiation's
// context; identityScopeKey keeps it in the guest's runtime.Guest.
type (
	identityScopeCtxKey struct{}
	identityScopeKey    struct{ h *Host }
)

// LoadIdentity reads a PEM certificate chain (leaf first) and its PEM or
// DER private key from files and parses them with the backend cfg names,
// for Config.Identities. A chain file over MaxChainFile or a key file over
// MaxKeyFile is an error.
//
// A backend that panics (in Name, Supported, Defaults or ParseIdentity)
// makes it fail with a *BackendPanicError; the stack goes to cfg.Logger.
func LoadIdentity(cfg Config, certFile, keyFile string) (*backends.Identity, error) {
	raw, err := cfg.backend()
	if err != nil {
		return nil, err
	}
	b, err := describe(raw, cfg.Logger)
	if err != nil {
		return nil, err
	}
	chain, err := readHostFile(certFile, "a certificate chain", MaxChainFile)
	if err != nil {
		return nil, err
	}
	key, err := readHostFile(keyFile, "a private key", MaxKeyFile)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	id, err := b.ParseIdentity(key, [][]byte{chain})
	if err != nil {
		return nil, inCall(fmt.Sprintf("identity of chain %s and key %s", certFile, keyFile), err)
	}
	return id, nil
}
