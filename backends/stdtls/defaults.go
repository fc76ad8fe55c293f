package stdtls

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/wasitls/wasitls/backends"
)

// Defaults reports what crypto/tls offers with an empty configuration, in
// its order, as this process's crypto/tls actually sends it: the
// ClientHello of a zero tls.Config, read once from a pipe. It therefore
// follows the Go version and the GODEBUG settings (tlsmlkem,
// tlssecpmlkem, ...) in force. crypto/tls's server uses the same lists.
func (Backend) Defaults() backends.Algorithms {
	defaultsOnce.Do(func() {
		a, err := probeDefaults()
		if err != nil {
			// Not expected: crypto/tls always sends a ClientHello.
			a = backends.Algorithms{}
		}
		defaults = a
	})
	return defaults
}

var (
	defaultsOnce sync.Once
	defaults     backends.Algorithms
)

// probeDefaults captures crypto/tls's first ClientHello over a pipe.
func probeDefaults() (backends.Algorithms, error) {
	c, s := net.Pipe()
	defer s.Close()
	client := tls.Client(c, &tls.Config{ServerName: "defaults.invalid"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.Handshake() // fails once s closes
		client.Close()
	}()
	defer func() { s.Close(); <-done }()
	var hdr [5]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		return backends.Algorithms{}, err
	}
	rec := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(s, rec); err != nil {
		return backends.Algorithms{}, err
	}
	return parseHelloAlgorithms(rec)
}

// parseHelloAlgorithms reads the cipher suites, supported_groups and
// supported_versions of a ClientHello handshake message (RFC 8446, Section
// 4.1.2), dropping GREASE values.
func parseHelloAlgorithms(msg []byte) (backends.Algorithms, error) {
	var a backends.Algorithms
	errShort := errors.New("stdtls: short ClientHello")
	take := func(n int) []byte {
		if n > len(msg) {
			msg = nil
			return nil
		}
		b := msg[:n]
		msg = msg[n:]
		return b
	}
	u16s := func(b []byte) (out []uint16) {
		for i := 0; i+1 < len(b); i += 2 {
			if v := binary.BigEndian.Uint16(b[i:]); v&0x0f0f != 0x0a0a {
				out = append(out, v)
			}
		}
		return out
	}
	if h := take(4); h == nil || h[0] != 1 {
		return a, errShort
	}
	take(2 + 32)
	if b := take(1); b != nil {
		take(int(b[0]))
	}
	if b := take(2); b != nil {
		a.CipherSuites = u16s(take(int(binary.BigEndian.Uint16(b))))
	}
	if b := take(1); b != nil {
		take(int(b[0]))
	}
	b := take(2)
	if b == nil {
		return a, errShort
	}
	exts := take(int(binary.BigEndian.Uint16(b)))
	for len(exts) >= 4 {
		typ, n := binary.BigEndian.Uint16(exts), int(binary.BigEndian.Uint16(exts[2:]))
		if 4+n > len(exts) {
			return a, errShort
		}
		body := exts[4 : 4+n]
		exts = exts[4+n:]
		switch {
		case typ == 10 && len(body) >= 2: // supported_groups
			a.Groups = u16s(body[2:])
		case typ == 43 && len(body) >= 1: // supported_versions
			a.Versions = u16s(body[1:])
		}
	}
	if len(a.CipherSuites) == 0 || len(a.Groups) == 0 || len(a.Versions) == 0 {
		return a, errShort
	}
	return a, nil
}
