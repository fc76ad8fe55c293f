package stdtls

import (
	"fmt"
	"strings"
	"testing"
)

// TestBoundErrorsNameBounds checks that the transport's bound errors name
// the bounds they enforce, maxHandshakeBytes and maxPostHandshakeBytes,
// in MiB.
func TestBoundErrorsNameBounds(t *testing.T) {
	for _, c := range []struct {
		err   error
		bound int
	}{
		{errHandshakeBytes, maxHandshakeBytes},
		{errPostHandshakeBytes, maxPostHandshakeBytes},
	} {
		if want := fmt.Sprintf("more than %g MiB", float64(c.bound)/(1<<20)); !strings.Contains(c.err.Error(), want) {
			t.Errorf("%q does not name its bound of %d bytes (%q)", c.err, c.bound, want)
		}
	}
}

// TestMebibytes checks the spelling of a bound in the errors.
func TestMebibytes(t *testing.T) {
	for n, want := range map[int]string{2 << 20: "2 MiB", 16 << 20: "16 MiB", 1 << 19: "0.5 MiB", 3 << 19: "1.5 MiB"} {
		if got := mebibytes(n); got != want {
			t.Errorf("mebibytes(%d) = %q, want %q", n, got, want)
		}
	}
}
