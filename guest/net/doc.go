// Package wasinet gives a Go guest (GOOS=wasip1) TCP through wasi:sockets:
// [Dial] and [Listen] return a standard [net.Conn] and [net.Listener], and
// [NewStreamReader] and [NewStreamWriter] turn raw wasi:io streams into an
// [io.Reader] and an [io.Writer].
//
// # Model
//
// Every operation that would block parks its goroutine on the guest's single
// poller (package guest/poll) with the pollable of the socket or stream, so
// other goroutines keep running and thousands of connections cost one host
// poll call per round. Nothing here calls a blocking host function.
//
// A [Conn] owns its tcp-socket and the socket's two streams (children of the
// socket, dropped before it). Reads return what the host has, as soon as it
// has some; writes respect the stream's check-write budget and request a
// flush after each Write (the flush completes in the background; the next
// Write waits for it). Deadlines are honoured by the poller through clock
// pollables; changing a deadline wakes a pending Read or Write, which then
// uses the new one. Close wakes every pending operation with net.ErrClosed.
//
// Names are resolved through wasi:sockets/ip-name-lookup (so only as the
// host's network policy allows). Only TCP is supported.
//
// [Conn.TakeStreams] hands the raw streams to another owner (the wasi:tls
// host, through package guest/tls); the Conn then only manages the socket.
package wasinet
