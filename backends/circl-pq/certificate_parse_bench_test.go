package circlpq

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// certificateWithExtensions is a Certificate message of entries certs of
// certLen bytes each carrying exts extensions of distinct types; the
// leaf's first is status_request with an OCSP response of ocspLen bytes
// when ocspLen > 0.
func certificateWithExtensions(entries, certLen, exts, ocspLen int) []byte {
	var b cryptobyte.Builder
	b.AddUint8LengthPrefixed(func(*cryptobyte.Builder) {})
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for i := range entries {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(bytes.Repeat([]byte{byte(i)}, certLen)) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				if i == 0 && ocspLen > 0 {
					b.AddUint16(extensionStatusRequest)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8(statusTypeOCSP)
						b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, ocspLen)) })
					})
				}
				for e := range exts {
					b.AddUint16(uint16(1000 + e))
					b.AddUint16LengthPrefixed(func(*cryptobyte.Builder) {})
				}
			})
		}
	})
	return marshalMessageBytes(typeCertificate, b.BytesOrPanic())
}

// BenchmarkCertificateEntryExtensions parses Certificate messages whose
// entries carry extensions: an ordinary chain (three certificates, an
// OCSP staple on the leaf) and a peer's 256 KiB of one-byte certificates
// with 16 extensions each, the most extension blocks a Certificate holds:
//
//	go test ./backends/circl-pq -run '^$' -bench CertificateEntryExtensions -count 5
func BenchmarkCertificateEntryExtensions(b *testing.B) {
	for _, bc := range []struct {
		name string
		msg  []byte
	}{
		{"chain-ocsp", certificateWithExtensions(3, 1500, 0, 1500)},
		{"hostile-16-extensions", certificateWithExtensions(3700, 1, 16, 0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.msg)))
			for b.Loop() {
				var m certificateMsg
				if !m.unmarshal(bc.msg) {
					b.Fatal("unmarshal failed")
				}
			}
		})
	}
}
