// Package tlsdraft holds raw Canonical ABI bindings for the upstream draft
// interface "wasi:tls/types@0.2.0-draft", the minimal client-only API other
// wasi:tls hosts serve, hand-written in the regular form described in package
// guest/wasi/io. A later generator mode may replace them.
package tlsdraft
