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
