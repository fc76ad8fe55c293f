// Package bench measures what the wasi:tls host costs and buys: TLS done by
// the host for a guest, against native crypto/tls (the ceiling) and against
// Go's crypto/tls compiled into the guest and run over wasi:sockets (what a
// guest does without wasi:tls).
//
// # Model
//
// Every scenario runs its baseline and its subjects on loopback, with one
// throwaway ECDSA P-256 certificate, and reports ratios against the
// baseline measured in the same run, so that the machine's speed cancels
// out. Subjects take turns in 8 runs; tables give the median and range of
// the runs, ratios the median and range of the run-by-run ratios. The
// native peer of the bulk, handshake and echo scenarios runs in this
// process and, as in a deployment, in a child process (this executable
// started again; see [RunChildIfRequested]). The scenarios are:
//
//   - Bulk: a native crypto/tls server drives one established connection
//     with commands (package bench/internal/protocol): receive N bytes
//     written W at a time (upload), send them (download). Clients: native crypto/tls
//     (baseline), a guest through wasi:tls per backend, a guest with
//     crypto/tls inside.
//   - Handshake: full TLS 1.3 handshakes per second for one key-exchange
//     group, each a new TCP connection, the server writing one byte after
//     the handshake so that both sides finished. Guest clients against the
//     native server and native clients against guest servers, against
//     native to native.
//   - Echo: one-byte round trips over an established connection.
//   - Idle: host memory per idle established connection held by a guest
//     server (the clients live in a child process, so their memory is not
//     counted), and a guest server holding many thousands of them.
//
// [Soak] is not a measurement but a check that holds over time: a guest
// echo server per backend under mixed load, including aborted, reset,
// silent and half-ClientHello connections, sampled at quiet points for
// growth of RSS, heap, goroutines, descriptors and resource-table entries.
//
// Guests are the package in testdata/benchguest, built for GOOS=wasip1 with
// the go command (so the module's source tree must be at hand), and the C
// guest in cguest (raw canonical-ABI imports, blocking host calls: the
// host's floor; its client on wasi:tls@0.2.0-draft, its server, which
// serves one connection at a time, on wasi:tls/tls@0.2.0-pr104 and the
// project's extensions), built with clang and wasi-libc when they are
// installed (its rows are skipped, and the report says so, when not); both
// run under package runtime with the wasi:tls host (runtime/tlshost) on
// each backend. [Run] runs the scenarios [Options] select and returns a
// [Report]; [Report.WriteTo] prints the tables. The go test benchmarks of
// this package run the same scenarios at small sizes.
package bench
