// Package sockets is the Go guest API of wasi:sockets network,
// instance-network, tcp-create-socket, tcp, udp-create-socket, udp and
// ip-name-lookup (WASI 0.2.8),
// over the bindings wit2host -guest generates in
// guest/wasi/bindings/wasi/sockets. It adds what the generated variants lack
// for package net: ErrorCode implements net.Error's Timeout and Temporary,
// and addresses are one flat struct convertible to and from netip.
//
// Socket operations never block: the two-phase start-*/finish-* functions
// report [ErrorWouldBlock] until the socket's pollable ([TCPSocket.Subscribe])
// is ready, a datagram stream's receive returns what is queued and its
// check-send what may be sent now. Package guest/net builds net.Conn,
// net.Listener and net.PacketConn on top.
package sockets
