package tlshost

import (
	"context"
	"fmt"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// HostIdentity is host-identity: a private-identity handle to the identity
// the host holds under name. Each call gives a new handle to the same
// identity; the key stays in the host.
func (e extensionsHost) HostIdentity(ctx context.Context, name string) (extensions.PrivateIdentity, bool) {
	e.h.guest(ctx, "wasitls:tls/extensions#host-identity")
	id, ok := e.h.cfg.Identities[name]
	if !ok || id == nil {
		return nil, false
	}
	return &privateIdentity{id: id}, true
}

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
