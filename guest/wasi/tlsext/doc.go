// Package tlsext holds raw Canonical ABI bindings for the project's extension
// interface "wasitls:tls/extensions@0.1.0": graceful shutdown (close_notify),
// protocol versions, cipher suites and key-exchange groups, and the
// negotiated group; what 0.2.0 adds (extensions_0_2.go) and what 0.3.0
// adds, session resumption (extensions_0_3.go). Hand-written in the regular form described in package
// guest/wasi/io; a later generator mode may replace them.
package tlsext
