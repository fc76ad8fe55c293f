package tlshost

import (
	"errors"
	"fmt"
)

// alpnStrings validates ALPN protocol IDs and converts them to the strings
// backends take. Each ID is 1 to 255 bytes; see RFC 7301, Section 3.1.
func alpnStrings(ids [][]byte) ([]string, error) {
	if len(ids) > 0xffff/2 {
		return nil, errors.New("tlshost: too many ALPN IDs")
	}
	out := make([]string, len(ids))
	size := 0
	for i, id := range ids {
		if len(id) == 0 || len(id) > 255 {
			return nil, fmt.Errorf("tlshost: ALPN ID %d is %d bytes long, want 1 to 255", i, len(id))
		}
		// The extension's list holds 65,535 bytes, each ID with a length
		// byte (RFC 7301, Section 3.1): without this bound a handshake
		// kept up to 8 MiB of IDs the extension could not carry.
		if size += 1 + len(id); size > 0xffff {
			return nil, fmt.Errorf("tlshost: the ALPN IDs take more than the 65535 bytes the extension holds")
		}
	}
	for i, id := range ids {
		out[i] = string(id)
	}
	return out, nil
}

// checkVersions validates protocol versions: only TLS 1.2 (0x0303) and TLS 1.3
// (0x0304) are offered by this host; earlier ones are deprecated (RFC 8996).
func checkVersions(vs []uint16) ([]uint16, error) {
	if len(vs) == 0 {
		return nil, errors.New("tlshost: empty protocol version list")
	}
	for _, v := range vs {
		if v != 0x0303 && v != 0x0304 {
			return nil, fmt.Errorf("tlshost: unsupported protocol version 0x%04x (want 0x0303 or 0x0304)", v)
		}
	}
	return cloneSlice(vs), nil
}

// checkCodePoints validates a non-empty list of IANA code points without
// duplicates. Whether the backend implements each is the backend's call.
func checkCodePoints(what string, cs []uint16) ([]uint16, error) {
	if len(cs) == 0 {
		return nil, fmt.Errorf("tlshost: empty %s list", what)
	}
	seen := make(map[uint16]bool, len(cs))
	for _, c := range cs {
		if seen[c] {
			return nil, fmt.Errorf("tlshost: duplicate %s 0x%04x", what, c)
		}
		seen[c] = true
	}
	return cloneSlice(cs), nil
}
