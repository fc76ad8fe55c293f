package tlsnames

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseVersion reads a protocol version: a name Version returns ("TLS
// 1.3"), without the "TLS" ("1.3"), or a 0x code point ("0x0304").
func ParseVersion(s string) (uint16, error) {
	return parse(versions, map[string]uint16{"1.2": 0x0303, "1.3": 0x0304}, "version", s)
}

// ParseCipherSuite reads a cipher suite: its IANA name
// ("TLS_AES_128_GCM_SHA256") or a 0x code point.
func ParseCipherSuite(s string) (uint16, error) {
	return parse(cipherSuites, nil, "cipher suite", s)
}

// ParseGroup reads a key-exchange group: a name Group returns, with or
// without its hyphen ("X25519MLKEM768", "P-256", "p256"), IANA's name for
// a NIST curve ("secp256r1"), or a 0x code point.
func ParseGroup(s string) (uint16, error) {
	return parse(groups, map[string]uint16{"secp256r1": 0x0017, "secp384r1": 0x0018, "secp521r1": 0x0019}, "group", s)
}

// ParseList reads a comma-separated list with parse, in order.
func ParseList(parse func(string) (uint16, error), s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		id, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// parse matches s against the table's names and the aliases, ignoring
// case, spaces and hyphens, or reads it as a 0x code point.
func parse(table map[uint16]string, aliases map[string]uint16, what, s string) (uint16, error) {
	s = strings.TrimSpace(s)
	key := fold(s)
	if id, ok := aliases[key]; ok {
		return id, nil
	}
	for id, name := range table {
		if fold(name) == key {
			return id, nil
		}
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		if id, err := strconv.ParseUint(rest, 16, 16); err == nil {
			return uint16(id), nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want a name or a 0x code point)", what, s)
}

func fold(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(s))
}
