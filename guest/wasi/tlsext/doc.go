// Package tlsext holds raw Canonical ABI bindings for the project's extension
// interface "wasitls:tls/extensions@0.1.0": graceful shutdown (close_notify),
// protocol versions, cipher suites and key-exchange groups, and the
// negotiated group. Hand-written in the regular form described in package
// guest/wasi/io; a later generator mode may replace them.
package tlsext
