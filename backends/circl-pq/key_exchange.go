package circlpq

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/hybrid"
	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"

	"github.com/wasitls/wasitls/tlsnames"
)

// Key exchange in TLS 1.3 is modelled as a KEM, as the hybrid drafts do
// (draft-ietf-tls-hybrid-design): the client's key_share is an encapsulation
// key, the server's is a ciphertext, both sides end up with a shared secret
// that enters the key schedule. An (EC)DH group is the KEM whose ciphertext
// is an ephemeral public key. Hybrid groups concatenate two components.

// errKeyShare is returned for a peer key share that has the wrong length or
// fails its validity check; the handshake answers it with illegal_parameter.
var errKeyShare = errors.New("tls: invalid key share")

// A kemComponent is one key-exchange primitive.
type kemComponent interface {
	// encapsulationKeySize and ciphertextSize are the wire sizes.
	encapsulationKeySize() int
	ciphertextSize() int
	// generate returns a fresh decapsulation key and its encoded
	// encapsulation key.
	generate() (decapsulator, []byte, error)
	// encapsulate checks a peer's encapsulation key and returns the
	// ciphertext and the shared secret. A bad key gives errKeyShare.
	encapsulate(ek []byte) (ct, secret []byte, err error)
}

// A decapsulator holds the client's private key for one key share.
type decapsulator interface {
	// decapsulate checks the server's ciphertext and returns the shared
	// secret. A bad ciphertext gives errKeyShare.
	decapsulate(ct []byte) ([]byte, error)
}

// A keyExchange is a named group: a kemComponent with its code point.
type keyExchange struct {
	id uint16
	kemComponent
}

// keyExchanges is every group this engine implements. Its entries are
// immutable and shared by all connections.
var keyExchanges = []*keyExchange{
	{X25519, ecdhKEM{ecdh.X25519(), 32}},
	{P256, ecdhKEM{ecdh.P256(), 65}},
	{P384, ecdhKEM{ecdh.P384(), 97}},
	{P521, ecdhKEM{ecdh.P521(), 133}},
	{MLKEM512, circlKEM{mlkem512.Scheme()}},
	{MLKEM768, circlKEM{mlkem768.Scheme()}},
	{MLKEM1024, circlKEM{mlkem1024.Scheme()}},
	// circl's X25519MLKEM768 is byte-compatible with the draft: ek =
	// ML-KEM-768 ek (1184) || X25519 (32), ct = ct (1088) || X25519 (32),
	// secret = ML-KEM (32) || X25519 (32) (draft-ietf-tls-ecdhe-mlkem,
	// Section 4.3).
	{X25519MLKEM768, circlKEM{hybrid.X25519MLKEM768()}},
	// The ECDH share comes first, and so does its secret
	// (draft-ietf-tls-ecdhe-mlkem, Section 4.1).
	{SecP256r1MLKEM768, hybridKEM{ecdhKEM{ecdh.P256(), 65}, circlKEM{mlkem768.Scheme()}}},
	// draft-ietf-tls-ecdhe-mlkem, Section 4.2.
	{SecP384r1MLKEM1024, hybridKEM{ecdhKEM{ecdh.P384(), 97}, circlKEM{mlkem1024.Scheme()}}},
}

// keyExchangeByID returns the key exchange of a group, or nil when the
// group is not supported. It does not allocate.
func keyExchangeByID(id uint16) *keyExchange {
	for _, kx := range keyExchanges {
		if kx.id == id {
			return kx
		}
	}
	return nil
}

// isGroupSupported reports whether id names a group this engine implements.
func isGroupSupported(id uint16) bool { return keyExchangeByID(id) != nil }

// ecdhKEM is an (EC)DH group as a KEM. The encapsulation key is the
// client's public key, the ciphertext the server's ephemeral public key.
type ecdhKEM struct {
	curve ecdh.Curve
	size  int // uncompressed point or X25519 u-coordinate length
}

func (k ecdhKEM) encapsulationKeySize() int { return k.size }
func (k ecdhKEM) ciphertextSize() int       { return k.size }

func (k ecdhKEM) generate() (decapsulator, []byte, error) {
	priv, err := k.curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return ecdhDecapsulator{priv}, priv.PublicKey().Bytes(), nil
}

func (k ecdhKEM) encapsulate(ek []byte) (ct, secret []byte, err error) {
	if len(ek) != k.size {
		return nil, nil, errKeyShare
	}
	// For the NIST curves NewPublicKey accepts only uncompressed points on
	// the curve, which is the point validation RFC 8446, Section 4.2.8.2
	// requires.
	peer, err := k.curve.NewPublicKey(ek)
	if err != nil {
		return nil, nil, errKeyShare
	}
	priv, err := k.curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	secret, err = priv.ECDH(peer)
	if err != nil {
		// X25519: an all-zero result means a low-order point
		// (RFC 8446, Section 7.4.2; RFC 7748, Section 6.1).
		return nil, nil, errKeyShare
	}
	return priv.PublicKey().Bytes(), secret, nil
}

type ecdhDecapsulator struct{ priv *ecdh.PrivateKey }

func (d ecdhDecapsulator) decapsulate(ct []byte) ([]byte, error) {
	peer, err := d.priv.Curve().NewPublicKey(ct)
	if err != nil {
		return nil, errKeyShare
	}
	secret, err := d.priv.ECDH(peer)
	if err != nil {
		return nil, errKeyShare
	}
	return secret, nil
}

// circlKEM is a circl KEM scheme: pure ML-KEM, or circl's X25519MLKEM768
// combiner.
type circlKEM struct{ scheme kem.Scheme }

func (k circlKEM) encapsulationKeySize() int { return k.scheme.PublicKeySize() }
func (k circlKEM) ciphertextSize() int       { return k.scheme.CiphertextSize() }

func (k circlKEM) generate() (decapsulator, []byte, error) {
	pk, sk, err := k.scheme.GenerateKeyPair()
	if err != nil {
		return nil, nil, err
	}
	ek, err := pk.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	return circlDecapsulator{k.scheme, sk}, ek, nil
}

func (k circlKEM) encapsulate(ek []byte) (ct, secret []byte, err error) {
	if len(ek) != k.scheme.PublicKeySize() {
		return nil, nil, errKeyShare
	}
	// Unmarshalling an ML-KEM key performs the FIPS 203 encapsulation key
	// check (Section 7.2: every coefficient below q); circl's X25519
	// rejects low-order points by their all-zero result.
	pk, err := k.scheme.UnmarshalBinaryPublicKey(ek)
	if err != nil {
		return nil, nil, errKeyShare
	}
	ct, secret, err = k.scheme.Encapsulate(pk)
	if err != nil {
		return nil, nil, errKeyShare
	}
	return ct, secret, nil
}

type circlDecapsulator struct {
	scheme kem.Scheme
	sk     kem.PrivateKey
}

func (d circlDecapsulator) decapsulate(ct []byte) ([]byte, error) {
	// FIPS 203, Section 7.3: the ciphertext length is checked; ML-KEM
	// decapsulation itself never fails (implicit rejection).
	if len(ct) != d.scheme.CiphertextSize() {
		return nil, errKeyShare
	}
	secret, err := d.scheme.Decapsulate(d.sk, ct)
	if err != nil {
		return nil, errKeyShare
	}
	return secret, nil
}

// hybridKEM concatenates two components: keys, ciphertexts and secrets are
// first || second (draft-ietf-tls-hybrid-design, Section 3.2).
type hybridKEM struct{ first, second kemComponent }

func (k hybridKEM) encapsulationKeySize() int {
	return k.first.encapsulationKeySize() + k.second.encapsulationKeySize()
}

func (k hybridKEM) ciphertextSize() int {
	return k.first.ciphertextSize() + k.second.ciphertextSize()
}

func (k hybridKEM) generate() (decapsulator, []byte, error) {
	d1, ek1, err := k.first.generate()
	if err != nil {
		return nil, nil, err
	}
	d2, ek2, err := k.second.generate()
	if err != nil {
		return nil, nil, err
	}
	ek := make([]byte, 0, len(ek1)+len(ek2))
	ek = append(append(ek, ek1...), ek2...)
	return hybridDecapsulator{k, d1, d2}, ek, nil
}

func (k hybridKEM) encapsulate(ek []byte) (ct, secret []byte, err error) {
	// Wrong total lengths are illegal_parameter
	// (draft-ietf-tls-ecdhe-mlkem, Section 4.4).
	if len(ek) != k.encapsulationKeySize() {
		return nil, nil, errKeyShare
	}
	n := k.first.encapsulationKeySize()
	ct1, ss1, err := k.first.encapsulate(ek[:n])
	if err != nil {
		return nil, nil, err
	}
	ct2, ss2, err := k.second.encapsulate(ek[n:])
	if err != nil {
		return nil, nil, err
	}
	return append(ct1, ct2...), append(ss1, ss2...), nil
}

type hybridDecapsulator struct {
	kem    hybridKEM
	d1, d2 decapsulator
}

func (d hybridDecapsulator) decapsulate(ct []byte) ([]byte, error) {
	if len(ct) != d.kem.ciphertextSize() {
		return nil, errKeyShare
	}
	n := d.kem.first.ciphertextSize()
	ss1, err := d.d1.decapsulate(ct[:n])
	if err != nil {
		return nil, err
	}
	ss2, err := d.d2.decapsulate(ct[n:])
	if err != nil {
		return nil, err
	}
	return append(ss1, ss2...), nil
}

// groupName is for messages and test names: "X25519MLKEM768".
func groupName(id uint16) string { return tlsnames.Group(id) }
