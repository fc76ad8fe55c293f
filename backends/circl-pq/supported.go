package circlpq

import "github.com/wasitls/wasitls/backends"

// supported is what Supported reports: the default groups, then pure
// ML-KEM, which is implemented but opt-in.
var supported = backends.Algorithms{
	Versions:     []uint16{versionTLS13},
	CipherSuites: defaultCipherSuites,
	Groups:       append(append([]uint16(nil), defaultGroups...), MLKEM768, MLKEM1024, MLKEM512),
}

// Supported reports what the engine implements: TLS 1.3 only; the three
// TLS 1.3 cipher suites; the groups X25519MLKEM768, X25519,
// SecP256r1MLKEM768, P-256, SecP384r1MLKEM1024, P-384, P-521 (the default
// list, in its order) and then MLKEM768, MLKEM1024 and MLKEM512.
func (Backend) Supported() backends.Algorithms { return supported }

var _ backends.Describer = Backend{}

// defaults is what Defaults reports.
var defaults = backends.Algorithms{
	Versions:     []uint16{versionTLS13},
	CipherSuites: defaultCipherSuites,
	Groups:       defaultGroups,
}

// Defaults reports what the engine uses when a list is empty: TLS 1.3, the
// three suites, and the groups of Supported without pure ML-KEM.
func (Backend) Defaults() backends.Algorithms { return defaults }
