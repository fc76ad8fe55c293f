// Package wasi is the root of the raw WASI bindings a Go guest
// (GOOS=wasip1 GOARCH=wasm) uses to talk to a wasitls host: one package per
// WIT interface family, all sharing the single cabi_realloc of package cabi.
//
//   - io: wasi:io error, poll and streams
//   - clocks: wasi:clocks monotonic-clock and wall-clock
//   - sockets: wasi:sockets network, instance-network, tcp-create-socket,
//     tcp, udp-create-socket, udp and ip-name-lookup
//   - tls: the wasi:tls proposal, "wasi:tls/tls@0.2.0-pr104"
//   - tlsdraft: the upstream draft, "wasi:tls/types@0.2.0-draft"
//   - tlsext: the project's extensions, "wasitls:tls/extensions@0.1.0" and
//     the functions "@0.2.0" and "@0.3.0" add
//
// Each package is a thin API over the bindings wit2host -guest generates
// in guest/wasi/bindings from the wasitls:host/guest world of the module's
// wit/ (go generate ./guest/...; see docs/wit2host.md): the generated code
// holds every //go:wasmimport declaration, memory layout and lifting and
// lowering, these packages the names and error types guest/net, guest/tls
// and guest/http use (guest/fs uses the generated wasi:filesystem
// bindings directly). The tests run on the host: the generator's tests
// check the layouts and the generated code, and this package builds a
// guest importing every function and checks each import's name and core
// signature against the Canonical ABI flattening of the WIT.
package wasi
