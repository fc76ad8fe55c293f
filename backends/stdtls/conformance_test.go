package stdtls_test

import (
	"testing"

	"github.com/wasitls/wasitls/backends/conformance"
	"github.com/wasitls/wasitls/backends/stdtls"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, stdtls.Backend{})
}
