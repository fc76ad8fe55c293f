// Package tlsdraft is the Go guest API of the upstream draft interface
// "wasi:tls/types@0.2.0-draft", the minimal client-only API other wasi:tls
// hosts serve, over the bindings wit2host -guest generates in
// guest/wasi/bindings/wasi/tls/types: the future's nested option and results
// become (ready, error) with a *HandshakeError.
package tlsdraft
