package circlpq

import (
	"fmt"

	"github.com/wasitls/wasitls/backends"
)

// NSS key log labels for TLS 1.3 (the SSLKEYLOGFILE format, also
// draft-ietf-tls-keylogfile).
const (
	keyLogClientHandshake = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	keyLogServerHandshake = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	keyLogClientTraffic   = "CLIENT_TRAFFIC_SECRET_0"
	keyLogServerTraffic   = "SERVER_TRAFFIC_SECRET_0"
	keyLogExporter        = "EXPORTER_SECRET"
)

// logKey writes one key log line, if the configuration asks for a key
// log: label, the ClientHello random and the secret, in hex. Errors of the
// writer are ignored, as crypto/tls does.
func (c *Conn) logKey(label string, clientRandom, secret []byte) {
	var o = c.options()
	if o == nil || o.KeyLog == nil {
		return
	}
	o.KeyLog.Write(fmt.Appendf(nil, "%s %x %x\n", label, clientRandom, secret))
}

// options are the connection's common options.
func (c *Conn) options() *backends.Options {
	switch {
	case c.clientConfig != nil:
		return &c.clientConfig.Options
	case c.serverConfig != nil:
		return &c.serverConfig.Options
	}
	return nil
}
