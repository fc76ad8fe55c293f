// Package abitest checks the generated glue against a real guest: a Go
// program built for GOOS=wasip1 during the test that calls the bindings of
// the test WIT (../../testdata/kitchen, generated into ../kitchen) with the
// Canonical ABI written out by hand, and hostile variants of it.
package abitest
