package circlpq

import (
	"crypto/hkdf"
	"crypto/hmac"
	"fmt"
	"hash"

	"golang.org/x/crypto/cryptobyte"

	"github.com/wasitls/wasitls/backends"
)

// The TLS 1.3 key schedule (RFC 8446, Section 7.1), driven by the cipher
// suite's hash:
//
//	0 -> HKDF-Extract = Early Secret -> Derive-Secret(., "derived", "")
//	(EC)DHE/KEM -> HKDF-Extract = Handshake Secret -> {c,s} hs traffic
//	  -> Derive-Secret(., "derived", "")
//	0 -> HKDF-Extract = Master Secret -> {c,s} ap traffic, exp master
//
// Labels used below.
const (
	labelDerived               = "derived"
	labelClientHandshake       = "c hs traffic"
	labelServerHandshake       = "s hs traffic"
	labelClientApplication     = "c ap traffic"
	labelServerApplication     = "s ap traffic"
	labelExporter              = "exp master"
	labelResumption            = "res master"
	labelResumptionBinder      = "res binder"
	labelResumptionPSK         = "resumption"
	labelTrafficUpdate         = "traffic upd"
	labelFinished              = "finished"
	labelKey                   = "key"
	labelIV                    = "iv"
	labelExporterDerivedPrefix = "exporter"
)

// expandLabel implements HKDF-Expand-Label (RFC 8446, Section 7.1). Its
// callers give it the labels above, contexts of a hash's size or a
// ticket nonce (255 bytes at most, by its own prefix), and lengths of a
// hash or a key, so it cannot fail; the exporter, whose label and length
// the application chooses, checks them first (exportKeyingMaterial).
func (s *cipherSuite) expandLabel(secret []byte, label string, context []byte, length int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(length))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes([]byte("tls13 "))
		b.AddBytes([]byte(label))
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes(context)
	})
	info, err := b.Bytes()
	if err != nil {
		// Labels and contexts are ours and short; this cannot happen.
		panic("circlpq: HKDF label too long: " + err.Error())
	}
	out, err := hkdf.Expand(s.hashFunc(), secret, string(info), length)
	if err != nil {
		panic("circlpq: HKDF-Expand: " + err.Error())
	}
	return out
}

// deriveSecret implements Derive-Secret (RFC 8446, Section 7.1) over the
// transcript hash state; transcript may be nil for the empty transcript.
func (s *cipherSuite) deriveSecret(secret []byte, label string, transcript hash.Hash) []byte {
	if transcript == nil {
		transcript = s.newHash()
	}
	return s.expandLabel(secret, label, transcript.Sum(nil), s.hash.Size())
}

// extract implements HKDF-Extract; a nil secret is the all-zero string of
// the hash length (RFC 8446, Section 7.1).
func (s *cipherSuite) extract(secret, salt []byte) []byte {
	if secret == nil {
		secret = make([]byte, s.hash.Size())
	}
	out, err := hkdf.Extract(s.hashFunc(), secret, salt)
	if err != nil {
		panic("circlpq: HKDF-Extract: " + err.Error())
	}
	return out
}

// handshakeSecret runs the schedule from the (absent) PSK to the Handshake
// Secret for the given shared secret.
func (s *cipherSuite) handshakeSecret(shared []byte) []byte {
	return s.handshakeSecretPSK(nil, shared)
}

// handshakeSecretPSK is handshakeSecret for a resumption PSK; nil is the
// all-zero PSK of a full handshake.
func (s *cipherSuite) handshakeSecretPSK(psk, shared []byte) []byte {
	early := s.extract(psk, nil)
	return s.extract(shared, s.deriveSecret(early, labelDerived, nil))
}

// binderKey derives the resumption binder key from a PSK
// (RFC 8446, Section 7.1).
func (s *cipherSuite) binderKey(psk []byte) []byte {
	return s.deriveSecret(s.extract(psk, nil), labelResumptionBinder, nil)
}

// resumptionPSK derives the PSK a ticket stands for
// (RFC 8446, Section 4.6.1).
func (s *cipherSuite) resumptionPSK(resumptionMaster, nonce []byte) []byte {
	return s.expandLabel(resumptionMaster, labelResumptionPSK, nonce, s.hash.Size())
}

// masterSecret derives the Master Secret from the Handshake Secret.
func (s *cipherSuite) masterSecret(handshakeSecret []byte) []byte {
	return s.extract(nil, s.deriveSecret(handshakeSecret, labelDerived, nil))
}

// trafficKey derives the record protection key and IV from a traffic
// secret (RFC 8446, Section 7.3).
func (s *cipherSuite) trafficKey(secret []byte) (key, iv []byte) {
	key = s.expandLabel(secret, labelKey, nil, s.keyLen)
	iv = s.expandLabel(secret, labelIV, nil, aeadNonceLength)
	return key, iv
}

// nextTrafficSecret derives application_traffic_secret_N+1
// (RFC 8446, Section 7.2).
func (s *cipherSuite) nextTrafficSecret(secret []byte) []byte {
	return s.expandLabel(secret, labelTrafficUpdate, nil, s.hash.Size())
}

// finishedHash computes Finished.verify_data for a base key over the
// transcript so far (RFC 8446, Section 4.4.4).
func (s *cipherSuite) finishedHash(baseKey []byte, transcript hash.Hash) []byte {
	finishedKey := s.expandLabel(baseKey, labelFinished, nil, s.hash.Size())
	mac := hmac.New(s.hashFunc(), finishedKey)
	mac.Write(transcript.Sum(nil))
	return mac.Sum(nil)
}

// exportKeyingMaterial implements the TLS 1.3 exporter
// (RFC 8446, Section 7.5).
func (s *cipherSuite) exportKeyingMaterial(exporterMaster []byte, label string, context []byte, length int) ([]byte, error) {
	// The application chooses the label and the length: what does not
	// fit HKDF-Expand-Label is an error, never a panic of expandLabel.
	if length < 0 || length > 255*s.hash.Size() {
		return nil, fmt.Errorf("tls: invalid exporter length %d: at most %d with this cipher suite", length, 255*s.hash.Size())
	}
	if len(label) > backends.MaxTLS13ExporterLabel {
		return nil, fmt.Errorf("tls: exporter label of %d bytes: at most %d in TLS 1.3 (RFC 8446, Section 7.1)", len(label), backends.MaxTLS13ExporterLabel)
	}
	secret := s.deriveSecret(exporterMaster, label, nil)
	h := s.newHash()
	h.Write(context)
	return s.expandLabel(secret, labelExporterDerivedPrefix, h.Sum(nil), length), nil
}
