package tlshost

import (
	"fmt"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/tlsnames"
)

// A ceiling is what the host allows a guest to select from, for each kind
// of setting a guest can configure: protocol versions, cipher suites and
// key-exchange groups. For each kind it is the host's own list when the
// host set one (Config.Versions, Config.CipherSuites, Config.Groups), and
// otherwise everything the backend implements (backends.Describer). A nil
// list means there is no ceiling the host can name: the backend does not
// describe itself and the host set nothing, so the backend alone decides
// what it implements.
//
// A guest's list is narrowed to the ceiling in the guest's order; code
// points outside it are dropped. When nothing is left, the configure call
// fails with an error that names both lists, and the setting stays as it
// was: the host's defaults, which are within the ceiling by construction.
type ceiling struct {
	versions, cipherSuites, groups []uint16
}

// newCeiling derives the ceiling from the host's lists in host (the base
// configuration of every session) and from what b implements.
func newCeiling(b backends.Backend, host *backends.Options) ceiling {
	var sup backends.Algorithms
	if d, ok := b.(backends.Describer); ok {
		sup = d.Supported()
	}
	pick := func(h, s []uint16) []uint16 {
		if len(h) > 0 {
			return h
		}
		return s
	}
	return ceiling{
		versions:     pick(host.Versions, sup.Versions),
		cipherSuites: pick(host.CipherSuites, sup.CipherSuites),
		groups:       pick(host.Groups, sup.Groups),
	}
}

// A kind is one kind of setting: its name in messages and how its code
// points are named.
type kind struct {
	singular, plural string
	name             func(uint16) string
}

var (
	versionKind = kind{"protocol version", "protocol versions", tlsnames.Version}
	suiteKind   = kind{"cipher suite", "cipher suites", tlsnames.CipherSuite}
	groupKind   = kind{"group", "groups", tlsnames.Group}
)

// narrow returns the code points of guest that allowed holds, in the
// guest's order. what is the guest's call, for the error.
func narrow(what string, k kind, guest, allowed []uint16) ([]uint16, error) {
	if allowed == nil {
		return guest, nil
	}
	var out []uint16
	for _, c := range guest {
		if contains(allowed, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tlshost: %s: the host allows none of the %s asked for: asked for %s; the host allows %s",
			what, k.plural, k.list(guest), k.list(allowed))
	}
	return out, nil
}

// list names each code point with the code point beside it:
// "X25519MLKEM768 (0x11ec), X25519 (0x001d)"; past the first listedAtMost,
// it counts the rest: a guest's list may name all 65,536 code points, and
// the error naming it is the connection's last error and logged.
func (k kind) list(ids []uint16) string {
	if len(ids) <= listedAtMost {
		return tlsnames.List(k.name, ids)
	}
	return fmt.Sprintf("%s and %d more", tlsnames.List(k.name, ids[:listedAtMost]), len(ids)-listedAtMost)
}

// listedAtMost is how many code points of a list an error names.
const listedAtMost = 32

// check reports host lists that name what the backend does not implement,
// so that a host policy the backend cannot honour fails at start-up, not
// in a guest's handshake.
func (c ceiling) check(b backends.Backend) error {
	d, ok := b.(backends.Describer)
	if !ok {
		return nil
	}
	sup := d.Supported()
	for _, l := range []struct {
		field         string
		k             kind
		host, backend []uint16
	}{
		{"Versions", versionKind, c.versions, sup.Versions},
		{"CipherSuites", suiteKind, c.cipherSuites, sup.CipherSuites},
		{"Groups", groupKind, c.groups, sup.Groups},
	} {
		for _, id := range l.host {
			if !contains(l.backend, id) {
				return fmt.Errorf("tlshost: Config.%s: %s is not implemented by backend %s, which implements %s",
					l.field, l.k.list([]uint16{id}), b.Name(), l.k.list(l.backend))
			}
		}
	}
	return nil
}

func contains(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
