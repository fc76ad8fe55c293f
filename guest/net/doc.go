// Package wasinet gives a Go guest (GOOS=wasip1) TCP and UDP through
// wasi:sockets: [Dial] and [Listen] return a standard [net.Conn] and
// [net.Listener], [ListenPacket] a [net.PacketConn], and [NewStreamReader]
// and [NewStreamWriter] turn raw wasi:io streams into an [io.Reader] and
// an [io.Writer].
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
// host's network policy allows).
//
// A [UDPConn] owns its udp-socket and the socket's two datagram streams
// (dropped before it). A read takes a datagram the host already queued
// (up to eight come back from one receive call and wait in the UDPConn),
// or parks on the incoming stream's pollable; a write sends one datagram
// once check-send grants one, or parks on the outgoing stream's pollable.
// Deadlines and Close work as for a Conn. [ListenPacket] binds a socket
// that sends anywhere the host's UDP rules allow; [Dial] with "udp"
// connects one to a single peer (its streams are limited to that address).
// A dual-stack UDPConn ([ListenPacket] "udp" with an empty host, when the
// host allows it) owns an IPv4 and an IPv6 socket bound to one port, as
// wasi:sockets has no dual-stack socket: a read takes a datagram from
// either (the two take turns going first) or waits on both pollables at
// once, a write goes to the socket of the destination's family.
//
// [Conn.TakeStreams] hands the raw streams to another owner (the wasi:tls
// host, through package guest/tls); the Conn then only manages the socket.
package wasinet
