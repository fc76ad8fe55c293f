// Package sockets holds raw Canonical ABI bindings for wasi:sockets network,
// instance-network, tcp-create-socket, tcp and ip-name-lookup (WASI 0.2.8),
// hand-written in the regular form described in package guest/wasi/io. A
// later generator mode may replace them. UDP is not bound.
//
// Socket operations never block: the two-phase start-*/finish-* functions
// report [ErrorWouldBlock] until the socket's pollable ([TCPSocket.Subscribe])
// is ready. Package guest/net builds net.Conn and net.Listener on top.
package sockets
