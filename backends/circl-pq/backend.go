package circlpq

import (
	"net"

	"github.com/wasitls/wasitls/backends"
)

// Name is the name the backend registers under.
const Name = "circl-pq"

func init() { backends.Register(Backend{}) }

// Backend is the circl-pq TLS backend: the engine of this package behind
// the backends contract. The zero value is ready to use.
type Backend struct{}

var _ backends.Backend = Backend{}

// Name returns "circl-pq".
func (Backend) Name() string { return Name }

// Client returns a client connection; see [Client].
func (Backend) Client(transport net.Conn, config *backends.ClientConfig) (backends.Conn, error) {
	return Client(transport, config)
}

// Server returns a server connection; see [Server].
func (Backend) Server(transport net.Conn, config *backends.ServerConfig) (backends.Conn, error) {
	return Server(transport, config)
}

// ParseIdentity parses a private key (PEM or DER: PKCS #8, PKCS #1 or
// SEC 1; ECDSA, Ed25519, RSA or ML-DSA) and its chain (each element PEM or
// DER, leaf first; a PEM element may hold several certificates). The key
// must match the leaf. See [ParseIdentity].
func (Backend) ParseIdentity(privateKey []byte, chain [][]byte) (*backends.Identity, error) {
	return ParseIdentity(privateKey, chain)
}
