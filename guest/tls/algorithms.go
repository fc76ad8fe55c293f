//go:build wasip1

package wasitls

import "github.com/wasitls/wasitls/guest/wasi/tlsext"

// Algorithms are protocol versions, cipher suites and key-exchange groups
// (IANA code points), each in preference order.
type Algorithms = tlsext.Algorithms

// AllowedAlgorithms returns what the host lets this guest select with
// Config's MinVersion, MaxVersion, CipherSuites and CurvePreferences (Node's
// tls.getCiphers, for all three): the host's own lists, or everything its
// backend implements where it set none. An empty list means the host
// cannot name it.
func AllowedAlgorithms() Algorithms { return tlsext.AllowedAlgorithms() }

// DefaultAlgorithms returns what a connection uses when Config sets none
// of them (Node's DEFAULT_CIPHERS, DEFAULT_ECDH_CURVE, DEFAULT_MIN_VERSION
// and DEFAULT_MAX_VERSION). An empty list means the host cannot name it.
func DefaultAlgorithms() Algorithms { return tlsext.DefaultAlgorithms() }
