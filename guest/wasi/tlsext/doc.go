// Package tlsext is the Go guest API of the project's extension interface
// "wasitls:tls/extensions": graceful shutdown (close_notify), protocol
// versions, cipher suites and key-exchange groups, the negotiated group and
// the host's reason for a failure (0.1.0); algorithms, client hello and
// client identity request details, host-held identities and keying material
// (what 0.2.0 adds, extensions_0_2.go); session resumption (what 0.3.0 adds,
// extensions_0_3.go). It takes the handles of package guest/wasi/tls and
// calls the bindings wit2host -guest generates in
// guest/wasi/bindings/wasitls/tls; each function is imported from the oldest
// version that has it, so a guest using only those runs on hosts that serve
// only that version.
package tlsext
