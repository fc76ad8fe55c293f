// Package tlsnames names TLS code points: protocol versions, cipher suites,
// key-exchange groups and signature schemes, as IANA's registries and Go's
// crypto/tls spell them.
//
// It depends on nothing but fmt, strconv and strings, so hosts, backends
// and GOOS=wasip1 guests print the same words for the same numbers, and
// command lines read them back with the Parse functions. Each naming
// function returns the name alone, or "0xNNNN" for a code point it does not
// know; Describe adds the code point beside a known name, as status output
// and error messages want:
//
//	tlsnames.Group(0x11ec)            // "X25519MLKEM768"
//	tlsnames.Describe(tlsnames.Group, 0x11ec) // "X25519MLKEM768 (0x11ec)"
package tlsnames

import (
	"fmt"
	"strings"
)

// Version names a protocol version: "TLS 1.3".
func Version(v uint16) string { return lookup(versions, v) }

// CipherSuite names a cipher suite: "TLS_AES_128_GCM_SHA256".
func CipherSuite(id uint16) string { return lookup(cipherSuites, id) }

// Group names a key-exchange group: "X25519MLKEM768".
func Group(id uint16) string { return lookup(groups, id) }

// SignatureScheme names a signature scheme: "ecdsa_secp256r1_sha256".
func SignatureScheme(id uint16) string { return lookup(signatureSchemes, id) }

// Describe returns name(id) followed by the code point, "TLS 1.3
// (0x0304)", or the code point alone when name does not know it.
func Describe(name func(uint16) string, id uint16) string {
	n := name(id)
	if n == hex(id) {
		return n
	}
	return fmt.Sprintf("%s (%s)", n, hex(id))
}

// List describes each id with Describe, separated by ", ", in order:
// "X25519MLKEM768 (0x11ec), X25519 (0x001d)". An empty list is "none".
func List(name func(uint16) string, ids []uint16) string {
	if len(ids) == 0 {
		return "none"
	}
	// A builder, not +=: a list of all 65,536 code points (a guest's, in
	// an error) would otherwise copy the string so far for each.
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Describe(name, id))
	}
	return b.String()
}

func lookup(table map[uint16]string, id uint16) string {
	if n, ok := table[id]; ok {
		return n
	}
	return hex(id)
}

func hex(id uint16) string { return fmt.Sprintf("0x%04x", id) }

// versions are the TLS protocol versions (RFC 8446, Appendix B.1 and its
// predecessors).
var versions = map[uint16]string{
	0x0300: "SSL 3.0",
	0x0301: "TLS 1.0",
	0x0302: "TLS 1.1",
	0x0303: "TLS 1.2",
	0x0304: "TLS 1.3",
}

// cipherSuites are the TLS 1.3 suites (RFC 8446, Appendix B.4) and the TLS
// 1.2 suites crypto/tls implements.
var cipherSuites = map[uint16]string{
	0x1301: "TLS_AES_128_GCM_SHA256",
	0x1302: "TLS_AES_256_GCM_SHA384",
	0x1303: "TLS_CHACHA20_POLY1305_SHA256",
	0x1304: "TLS_AES_128_CCM_SHA256",
	0x1305: "TLS_AES_128_CCM_8_SHA256",

	0x0005: "TLS_RSA_WITH_RC4_128_SHA",
	0x000a: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA",
	0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
	0x003c: "TLS_RSA_WITH_AES_128_CBC_SHA256",
	0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
	0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
	0xc007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	0xc009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	0xc00a: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	0xc011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	0xc012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0xc013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	0xc014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	0xc023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	0xc027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
}

// groups are the supported_groups code points (RFC 8446, Section 4.2.7;
// RFC 7919; draft-ietf-tls-ecdhe-mlkem; draft-connolly-tls-mlkem-key-agreement),
// named as crypto/tls names them.
var groups = map[uint16]string{
	0x0017: "P-256",
	0x0018: "P-384",
	0x0019: "P-521",
	0x001d: "X25519",
	0x001e: "X448",
	0x0100: "ffdhe2048",
	0x0101: "ffdhe3072",
	0x0102: "ffdhe4096",
	0x0103: "ffdhe6144",
	0x0104: "ffdhe8192",
	0x0200: "MLKEM512",
	0x0201: "MLKEM768",
	0x0202: "MLKEM1024",
	0x11eb: "SecP256r1MLKEM768",
	0x11ec: "X25519MLKEM768",
	0x11ed: "SecP384r1MLKEM1024",
}

// signatureSchemes are the signature_algorithms code points (RFC 8446,
// Section 4.2.3; draft-ietf-tls-mldsa).
var signatureSchemes = map[uint16]string{
	0x0201: "rsa_pkcs1_sha1",
	0x0203: "ecdsa_sha1",
	0x0401: "rsa_pkcs1_sha256",
	0x0403: "ecdsa_secp256r1_sha256",
	0x0501: "rsa_pkcs1_sha384",
	0x0503: "ecdsa_secp384r1_sha384",
	0x0601: "rsa_pkcs1_sha512",
	0x0603: "ecdsa_secp521r1_sha512",
	0x0804: "rsa_pss_rsae_sha256",
	0x0805: "rsa_pss_rsae_sha384",
	0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519",
	0x0808: "ed448",
	0x0809: "rsa_pss_pss_sha256",
	0x080a: "rsa_pss_pss_sha384",
	0x080b: "rsa_pss_pss_sha512",
	0x0904: "mldsa44",
	0x0905: "mldsa65",
	0x0906: "mldsa87",
}
