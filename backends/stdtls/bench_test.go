package stdtls_test

import (
	"testing"

	"github.com/wasitls/wasitls/backends/conformance"
	"github.com/wasitls/wasitls/backends/stdtls"
)

// BenchmarkStdtls compares handshakes and bulk throughput through the
// backend with raw crypto/tls, printing the ratio.
func BenchmarkStdtls(b *testing.B) {
	conformance.Bench(b, stdtls.Backend{})
}

// BenchmarkClientCAs compares server handshakes requiring a client
// certificate with 500 acceptable CAs and with 5.
func BenchmarkClientCAs(b *testing.B) {
	conformance.BenchClientCAs(b, stdtls.Backend{})
}
