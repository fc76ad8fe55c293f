//go:build wasip1

package wasitls

import (
	stdtls "crypto/tls"
)

// Standard returns the state as crypto/tls describes a connection, for code
// written against tls.ConnectionState (net/http's Response.TLS and
// Request.TLS, for one). Fields the wasi:tls status does not carry
// (verified chains, OCSP, SCTs, TLS unique) are left empty.
// NegotiatedProtocolIsMutual is true, as crypto/tls always reports it.
func (s ConnectionState) Standard() stdtls.ConnectionState {
	return stdtls.ConnectionState{
		Version:                    s.Version,
		HandshakeComplete:          s.HandshakeComplete,
		CipherSuite:                s.CipherSuite,
		CurveID:                    stdtls.CurveID(s.CurveID),
		NegotiatedProtocol:         s.NegotiatedProtocol,
		NegotiatedProtocolIsMutual: true,
		ServerName:                 s.ServerName,
		PeerCertificates:           s.PeerCertificates,
	}
}
