package tlshost

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"

	"github.com/wasitls/wasitls/backends"
)

// probeOptions has b make a client over base, the host's versions, cipher
// suites and groups, on a pipe it closes at once: each list may be one the
// backend implements while together they leave no handshake possible
// (TLS 1.3 alone with only TLS 1.2 suites; on stdtls, a strict subset of
// the TLS 1.3 suites, which crypto/tls cannot restrict). A backend refuses
// such options when it makes a connection, before any I/O, so the host
// refuses them here, when it starts, rather than fail every connection a
// guest makes. Only a host that narrows a list probes (the backend's own
// defaults need no check), and the backend's Client and the connection's
// Close run under the shield, as for a guest's connection: a panic is the
// error, naming the method, logged with its stack to logger.
func probeOptions(b backends.Backend, base backends.Options, logger *slog.Logger) (err error) {
	if len(base.Versions) == 0 && len(base.CipherSuites) == 0 && len(base.Groups) == 0 {
		return nil
	}
	local, remote := net.Pipe()
	// Closed before the connection, so that whatever its Close would
	// send fails at once rather than waits for a reader.
	local.Close()
	remote.Close()
	s := shield{backend: b.Name(), log: func(err error, stack []byte) { logBackendPanic(logger, b.Name(), err, stack) }}
	var c backends.Conn
	func() {
		defer s.catch("Client", &err)
		c, err = b.Client(local, &backends.ClientConfig{Options: base, ServerName: "probe.invalid", RootCAs: x509.NewCertPool()})
	}()
	if err == nil && c != nil {
		// Close fails on the pipe, closed already: only a panic counts.
		func() {
			defer s.catch("Close", &err)
			c.Close()
		}()
	}
	if err != nil {
		return fmt.Errorf("tlshost: Config's Versions, CipherSuites and Groups leave backend %s no connection to make: %w", b.Name(), err)
	}
	return nil
}
