package stdtls

import (
	"crypto/tls"
	"fmt"
	"slices"

	"github.com/wasitls/wasitls/backends"
)

// tls13Suites are the TLS 1.3 cipher suites crypto/tls always enables
// (RFC 8446, Appendix B.4).
var tls13Suites = []uint16{
	tls.TLS_AES_128_GCM_SHA256,
	tls.TLS_AES_256_GCM_SHA384,
	tls.TLS_CHACHA20_POLY1305_SHA256,
}

// supportedGroups are the key-exchange groups crypto/tls implements, by
// IANA code point.
var supportedGroups = []tls.CurveID{
	tls.X25519MLKEM768,
	tls.SecP256r1MLKEM768,
	tls.SecP384r1MLKEM1024,
	tls.X25519,
	tls.CurveP256,
	tls.CurveP384,
	tls.CurveP521,
}

// applyOptions sets the versions, suites, groups, ALPN and clock of cfg from
// o. See the package documentation for what crypto/tls does not honour.
func applyOptions(cfg *tls.Config, o *backends.Options) error {
	versions := o.Versions
	if len(versions) > 0 {
		var min, max uint16
		for _, v := range versions {
			switch v {
			case tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13:
			default:
				continue
			}
			if min == 0 || v < min {
				min = v
			}
			if v > max {
				max = v
			}
		}
		if min == 0 {
			return fmt.Errorf("stdtls: none of the protocol versions %#04x is supported: %w", versions, backends.ErrNotSupported)
		}
		cfg.MinVersion, cfg.MaxVersion = min, max
	}

	if len(o.CipherSuites) > 0 {
		var n13 int
		for _, s := range tls13Suites {
			if slices.Contains(o.CipherSuites, s) {
				n13++
			}
		}
		allows13 := cfg.MaxVersion == 0 || cfg.MaxVersion >= tls.VersionTLS13
		switch {
		case n13 > 0 && n13 < len(tls13Suites) && allows13:
			return fmt.Errorf("stdtls: crypto/tls cannot restrict the TLS 1.3 cipher suites (asked for %#04x; list all three or none): %w", o.CipherSuites, backends.ErrNotSupported)
		case n13 == 0 && allows13:
			// No TLS 1.3 suite allowed: no TLS 1.3.
			if cfg.MinVersion >= tls.VersionTLS13 {
				return fmt.Errorf("stdtls: TLS 1.3 required but no TLS 1.3 cipher suite allowed")
			}
			cfg.MaxVersion = tls.VersionTLS12
		}
		var suites12 []uint16
		for _, cs := range tls.CipherSuites() {
			if slices.Contains(o.CipherSuites, cs.ID) && !slices.Contains(tls13Suites, cs.ID) {
				suites12 = append(suites12, cs.ID)
			}
		}
		allows12 := cfg.MinVersion == 0 || cfg.MinVersion <= tls.VersionTLS12
		if len(suites12) == 0 && allows12 {
			if cfg.MaxVersion != 0 && cfg.MaxVersion <= tls.VersionTLS12 {
				return fmt.Errorf("stdtls: none of the cipher suites %#04x is supported: %w", o.CipherSuites, backends.ErrNotSupported)
			}
			// Only TLS 1.3 suites were listed: no TLS 1.2 and below.
			cfg.MinVersion = tls.VersionTLS13
		}
		cfg.CipherSuites = suites12
	}

	if len(o.Groups) > 0 {
		var groups []tls.CurveID
		for _, g := range o.Groups {
			if id := tls.CurveID(g); slices.Contains(supportedGroups, id) && !slices.Contains(groups, id) {
				groups = append(groups, id)
			}
		}
		if len(groups) == 0 {
			return fmt.Errorf("stdtls: none of the groups %#04x is supported by crypto/tls: %w", o.Groups, backends.ErrNotSupported)
		}
		cfg.CurvePreferences = groups
	}

	if len(o.ALPN) > 0 {
		cfg.NextProtos = slices.Clone(o.ALPN)
	}
	cfg.Time = o.Time
	cfg.KeyLogWriter = o.KeyLog
	return nil
}

func curvesToUint16(c []tls.CurveID) []uint16 {
	out := make([]uint16, len(c))
	for i, v := range c {
		out[i] = uint16(v)
	}
	return out
}

func schemesToUint16(s []tls.SignatureScheme) []uint16 {
	out := make([]uint16, len(s))
	for i, v := range s {
		out[i] = uint16(v)
	}
	return out
}

func tlsCertificate(id *backends.Identity) *tls.Certificate {
	return &tls.Certificate{Certificate: id.Chain, PrivateKey: id.Key, Leaf: id.Leaf, OCSPStaple: id.OCSP}
}
