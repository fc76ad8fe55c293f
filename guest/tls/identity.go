//go:build wasip1

package wasitls

import (
	"encoding/pem"
	"errors"
	"fmt"
	"sync"

	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

// Identity is a private key with its certificate chain, held by the host
// (a wasi:tls private-identity). The key cannot be read back.
type Identity struct {
	mu sync.Mutex
	h  tls.PrivateIdentity
}

// ParseIdentity hands key (PEM or DER: PKCS#8, PKCS#1 or SEC1) and chain
// (leaf first; each element DER or PEM, a PEM element may hold several
// certificates) to the host, which parses them and checks that they match.
// A failure carries the host's reason (wasitls:tls/extensions@0.2.0).
func ParseIdentity(key []byte, chain ...[]byte) (*Identity, error) {
	if len(key) == 0 {
		return nil, errors.New("wasitls: empty private key")
	}
	var ders [][]byte
	for _, c := range chain {
		if blocks := pemCertificates(c); blocks != nil {
			ders = append(ders, blocks...)
		} else {
			ders = append(ders, c)
		}
	}
	if len(ders) == 0 {
		return nil, errors.New("wasitls: empty certificate chain")
	}
	h, err := tlsext.ParsePrivateIdentity(key, ders)
	if err != nil {
		return nil, fmt.Errorf("wasitls: the host refused the private key or certificate chain: %w", err)
	}
	return &Identity{h: h}, nil
}

// HostIdentity returns the identity the host holds under name (wasitls
// run --identity NAME=CERT,KEY). The private key stays in the host and
// never enters guest memory.
func HostIdentity(name string) (*Identity, error) {
	h, ok := tlsext.HostIdentity(name)
	if !ok {
		return nil, fmt.Errorf("wasitls: the host holds no identity named %q "+
			"(wasitls run --identity %s=CERT,KEY gives it one; an embedding host, tlshost.Config.Identities)", name, name)
	}
	return &Identity{h: h}, nil
}

// pemCertificates returns the DER of every CERTIFICATE block of b, or nil
// when b is not PEM.
func pemCertificates(b []byte) [][]byte {
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
}

// Chain returns the identity's certificate chain (DER, leaf first).
func (id *Identity) Chain() [][]byte {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.h == 0 {
		return nil
	}
	pub := id.h.PublicIdentity()
	defer pub.Drop()
	return pub.ExportX509Chain()
}

// Close releases the host's identity. Connections that are using it keep
// working.
func (id *Identity) Close() error {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.h != 0 {
		id.h.Drop()
		id.h = 0
	}
	return nil
}

// handlesOf appends the live handles of ids to hs and returns it. The
// handles are borrowed for one host call; an Identity closed concurrently
// is the caller's bug.
//
// Callers pass a small array of their own frame (stackHandles), which
// holds a server's usual one to four identities with no allocation. It
// may be on the goroutine's stack during the host call: the two calls
// that take the list (configure-server-identities and
// client-identity-request.respond) return no list, so the host does not
// call back into the guest (cabi_realloc) while it reads the list, and
// nothing can move the stack under it.
func handlesOf(hs []tls.PrivateIdentity, ids []*Identity) []tls.PrivateIdentity {
	for _, id := range ids {
		if id == nil {
			continue
		}
		id.mu.Lock()
		if id.h != 0 {
			hs = append(hs, id.h)
		}
		id.mu.Unlock()
	}
	return hs
}

// stackHandles is the size of the array a caller of handlesOf keeps on its
// frame.
const stackHandles = 4

func chainOf(p tls.PublicIdentity) [][]byte {
	defer p.Drop()
	return p.ExportX509Chain()
}
