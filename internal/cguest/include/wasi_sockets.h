// wasi_sockets.h: the TCP part of wasi:sockets@0.2.8. See import.h.
//
// An ip-socket-address parameter flattens to its case (0 ipv4, 1 ipv6)
// and 11 values joined across the cases; the ipv4 case uses the first
// five, the port and the four address bytes, and the rest are 0. An
// error-code is a u8.
#ifndef WASITLS_WASI_SOCKETS_H
#define WASITLS_WASI_SOCKETS_H

#include "import.h"

#define WASI_SOCKETS(i) "wasi:sockets/" i WASI_VERSION

// instance-network: func() -> network
IMPORT(WASI_SOCKETS("instance-network"), "instance-network")
uint32_t instance_network(void);
IMPORT(WASI_SOCKETS("network"), "[resource-drop]network")
void network_drop(uint32_t self);

// create-tcp-socket: func(address-family: ip-address-family) -> result<tcp-socket, error-code>
// ret: the handle @4, or the code @4.
IMPORT(WASI_SOCKETS("tcp-create-socket"), "create-tcp-socket")
void create_tcp_socket(uint32_t family, void *ret);

// [method]tcp-socket.start-connect: func(network: borrow<network>, remote-address: ip-socket-address) -> result<_, error-code>
// ret: the code @1.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.start-connect")
void tcp_start_connect(uint32_t self, uint32_t network, uint32_t tag, uint32_t port, uint32_t a0, uint32_t a1,
		       uint32_t a2, uint32_t a3, uint32_t p6, uint32_t p7, uint32_t p8, uint32_t p9, uint32_t p10,
		       uint32_t p11, void *ret);
// [method]tcp-socket.finish-connect: func() -> result<tuple<input-stream, output-stream>, error-code>
// ret: the handles @4 and @8, or the code @4.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.finish-connect")
void tcp_finish_connect(uint32_t self, void *ret);

// [method]tcp-socket.start-bind: func(network: borrow<network>, local-address: ip-socket-address) -> result<_, error-code>
// ret: the code @1.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.start-bind")
void tcp_start_bind(uint32_t self, uint32_t network, uint32_t tag, uint32_t port, uint32_t a0, uint32_t a1,
		    uint32_t a2, uint32_t a3, uint32_t p6, uint32_t p7, uint32_t p8, uint32_t p9, uint32_t p10,
		    uint32_t p11, void *ret);
// [method]tcp-socket.finish-bind: func() -> result<_, error-code>
// ret: the code @1.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.finish-bind")
void tcp_finish_bind(uint32_t self, void *ret);
// [method]tcp-socket.start-listen: func() -> result<_, error-code>
// ret: the code @1.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.start-listen")
void tcp_start_listen(uint32_t self, void *ret);
// [method]tcp-socket.finish-listen: func() -> result<_, error-code>
// ret: the code @1.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.finish-listen")
void tcp_finish_listen(uint32_t self, void *ret);
// [method]tcp-socket.accept: func() -> result<tuple<tcp-socket, input-stream, output-stream>, error-code>
// ret: the handles @4, @8, @12, or the code @4.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.accept")
void tcp_accept(uint32_t self, void *ret);
// [method]tcp-socket.local-address: func() -> result<ip-socket-address, error-code>
// ret: the address's case @4; ipv4: the port u16 @8, the address bytes
// @10 to @13.
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.local-address")
void tcp_local_address(uint32_t self, void *ret);
// [method]tcp-socket.subscribe: func() -> pollable
IMPORT(WASI_SOCKETS("tcp"), "[method]tcp-socket.subscribe")
uint32_t tcp_subscribe(uint32_t self);
IMPORT(WASI_SOCKETS("tcp"), "[resource-drop]tcp-socket")
void tcp_drop(uint32_t self);

#endif
