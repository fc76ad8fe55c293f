package tlshost

import "fmt"

// maxClientALPNBytes bounds the ALPN IDs a client offers, counted as
// they are sent: each ID with its length byte (RFC 7301, Section 3.1).
// The extension holds 65,535, but the ClientHello carrying it does not:
// crypto/tls's and circl-pq's servers read no handshake message over
// 65,536 bytes, and both clients fail to encode one whose extensions take
// more than 65,535. Beside the IDs the guest chooses the rest of the
// ClientHello: at most, a 254-byte server name with every group the
// backend implements and a key share for each, every cipher suite and
// version (8,475 bytes with circl-pq, whose ML-KEM shares take up to
// 1,665 bytes each; 1,737 with crypto/tls, which sends one or two
// shares). 48 KiB of IDs leave 16,378 bytes for that, the ALPN
// extension's 6 bytes of headers and 7.9 KB for what the server chooses
// (a session ticket to resume, a HelloRetryRequest cookie): the largest
// list the host accepts is one both backends send
// (TestClientALPNBound).
const maxClientALPNBytes = 48 << 10

// maxServerALPNBytes bounds the ALPN IDs a server accepts. They are never
// sent, so only the extension bounds them: a client offers at most 65,535
// bytes of IDs, and accepting more could not make a difference.
const maxServerALPNBytes = 0xffff

// alpnStrings validates the ALPN protocol IDs a client (side "client")
// offers or a server accepts, and converts them to the strings backends
// take. Each ID is 1 to 255 bytes (RFC 7301, Section 3.1); together they
// take at most maxClientALPNBytes or maxServerALPNBytes.
func alpnStrings(side string, ids [][]byte) ([]string, error) {
	limit, why := maxServerALPNBytes, "what the extension holds"
	if side == "client" {
		limit, why = maxClientALPNBytes, "what a ClientHello carries beside the rest of the hello"
	}
	if len(ids) > limit/2 {
		return nil, fmt.Errorf("tlshost: %d ALPN IDs take more than the %d bytes a %s's ALPN IDs may take (%s; each ID counts its length byte)", len(ids), limit, side, why)
	}
	size := 0
	for i, id := range ids {
		if len(id) == 0 || len(id) > 255 {
			return nil, fmt.Errorf("tlshost: ALPN ID %d is %d bytes long, want 1 to 255", i, len(id))
		}
		size += 1 + len(id)
	}
	if size > limit {
		return nil, fmt.Errorf("tlshost: the ALPN IDs take %d bytes, more than the %d a %s's ALPN IDs may take (%s; each ID counts its length byte)", size, limit, side, why)
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out, nil
}

// checkVersions validates protocol versions: only TLS 1.2 (0x0303) and TLS 1.3
// (0x0304) are offered by this host; earlier ones are deprecated (RFC 8996).
// Like every list of code points, it is non-empty and names each at most
// once (see checkCodePoints).
func checkVersions(vs []uint16) ([]uint16, error) {
	for _, v := range vs {
		if v != 0x0303 && v != 0x0304 {
			return nil, fmt.Errorf("unsupported protocol version 0x%04x (want 0x0303 or 0x0304)", v)
		}
	}
	return checkCodePoints(versionKind, vs)
}

// checkCodePoints validates a list of IANA code points of kind k: it is
// non-empty and names each code point at most once. A repeat is an error
// rather than folded into the first: a list is a preference order, and a
// guest that names a code point twice has a bug that folding would hide
// (which place did it mean?). Protocol versions, cipher suites and groups
// follow the same rule, from the guest (configure-*) and from the host
// (Config.Versions, CipherSuites, Groups). Whether the backend implements
// each is the backend's call. The error names neither the call nor the
// package: the caller does.
func checkCodePoints(k kind, cs []uint16) ([]uint16, error) {
	if len(cs) == 0 {
		return nil, fmt.Errorf("empty %s list", k.singular)
	}
	// The first place of each: a list of 65,536 distinct code points at most.
	seen := make(map[uint16]int, min(len(cs), 64))
	for i, c := range cs {
		if j, ok := seen[c]; ok {
			return nil, fmt.Errorf("duplicate %s %s in the list, at %d and %d: each may be named once", k.singular, k.list([]uint16{c}), j, i)
		}
		seen[c] = i
	}
	return cloneSlice(cs), nil
}
