package circlpq

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// A cipherSuite is a TLS 1.3 cipher suite: an AEAD and the hash of the key
// schedule (RFC 8446, Appendix B.4).
type cipherSuite struct {
	id     uint16
	keyLen int
	aead   func(key []byte) (cipher.AEAD, error)
	hash   crypto.Hash
}

var cipherSuites = []*cipherSuite{
	{TLS_AES_128_GCM_SHA256, 16, aeadAESGCM, crypto.SHA256},
	{TLS_AES_256_GCM_SHA384, 32, aeadAESGCM, crypto.SHA384},
	{TLS_CHACHA20_POLY1305_SHA256, 32, chacha20poly1305.New, crypto.SHA256},
}

// cipherSuiteByID returns the suite with the given code point, or nil.
func cipherSuiteByID(id uint16) *cipherSuite {
	for _, s := range cipherSuites {
		if s.id == id {
			return s
		}
	}
	return nil
}

func aeadAESGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// newHash returns a fresh hash of the suite's transcript hash function.
func (s *cipherSuite) newHash() hash.Hash {
	if s.hash == crypto.SHA384 {
		return sha512.New384()
	}
	return sha256.New()
}

// hashFunc returns the constructor of the suite's hash, for crypto/hkdf and
// crypto/hmac.
func (s *cipherSuite) hashFunc() func() hash.Hash {
	if s.hash == crypto.SHA384 {
		return sha512.New384
	}
	return sha256.New
}
