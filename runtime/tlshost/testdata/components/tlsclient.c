// tlsclient is the design text's minimal TLS client in C, written against
// the Canonical ABI by hand: it connects to ADDR:PORT with wasi:sockets,
// runs a TLS handshake for NAME through the upstream wasi:tls@0.2.0-draft,
// sends "GET / HTTP/1.0" and copies the answer to stdout. Built with clang
// and wasi-libc, embedded with tlsclient.wit, then `jco new --wasi-command`.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(m, n) __attribute__((import_module(m), import_name(n)))
#define SOCKETS "@0.2.8"

IMPORT("wasi:sockets/instance-network" SOCKETS, "instance-network") int32_t instance_network(void);
// result<own<tcp-socket>, error-code>: disc u8 @0, handle or code @4.
IMPORT("wasi:sockets/tcp-create-socket" SOCKETS, "create-tcp-socket") void create_tcp_socket(int32_t family, void *ret);
// self, network, ip-socket-address flattened (disc, then 11 joined i32),
// result<_, error-code>: disc u8 @0, code u8 @1.
IMPORT("wasi:sockets/tcp" SOCKETS, "[method]tcp-socket.start-connect")
void start_connect(int32_t self, int32_t net, int32_t disc, int32_t port, int32_t a, int32_t b, int32_t c, int32_t d,
                   int32_t p6, int32_t p7, int32_t p8, int32_t p9, int32_t p10, int32_t p11, void *ret);
IMPORT("wasi:sockets/tcp" SOCKETS, "[method]tcp-socket.subscribe") int32_t tcp_subscribe(int32_t self);
// result<tuple<own<input-stream>, own<output-stream>>, error-code>: disc
// u8 @0, input @4, output @8 (or code u8 @4).
IMPORT("wasi:sockets/tcp" SOCKETS, "[method]tcp-socket.finish-connect") void finish_connect(int32_t self, void *ret);
IMPORT("wasi:io/poll@0.2.8", "[method]pollable.block") void pollable_block(int32_t self);
IMPORT("wasi:io/poll@0.2.8", "[resource-drop]pollable") void pollable_drop(int32_t self);
// string: ptr @0, len @4.
IMPORT("wasi:io/error@0.2.8", "[method]error.to-debug-string") void error_to_debug_string(int32_t self, void *ret);
// result<_, stream-error>: disc u8 @0; stream-error disc u8 @4, error @8.
IMPORT("wasi:io/streams@0.2.8", "[method]output-stream.blocking-write-and-flush")
void blocking_write_and_flush(int32_t self, const void *p, uint32_t n, void *ret);
// result<list<u8>, stream-error>: disc u8 @0; list ptr @4, len @8, or
// stream-error disc u8 @4, error @8.
IMPORT("wasi:io/streams@0.2.8", "[method]input-stream.blocking-read") void blocking_read(int32_t self, uint64_t len, void *ret);

#define TLS "wasi:tls/types@0.2.0-draft"
IMPORT(TLS, "[constructor]client-handshake") int32_t client_handshake(const char *name, uint32_t len, int32_t in, int32_t out);
IMPORT(TLS, "[static]client-handshake.finish") int32_t client_handshake_finish(int32_t hs);
IMPORT(TLS, "[method]future-client-streams.subscribe") int32_t future_subscribe(int32_t self);
// option<result<result<tuple<client-connection, input-stream,
// output-stream>, io-error>>>: some u8 @0, outer disc @4, inner disc @8,
// the three handles @12, @16, @20 (or the io-error @12).
IMPORT(TLS, "[method]future-client-streams.get") void future_get(int32_t self, void *ret);

// The host allocates returned lists and strings here.
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t oldsz, size_t align, size_t newsz) {
	(void)oldsz, (void)align;
	return realloc(old, newsz);
}

static uint32_t ret[8];
#define RET8(i) (((uint8_t *)ret)[i])

static void wait_on(int32_t pollable) {
	pollable_block(pollable);
	pollable_drop(pollable);
}

static int fail_error(const char *what, int32_t err) {
	error_to_debug_string(err, ret);
	fprintf(stderr, "%s: %.*s\n", what, (int)ret[1], (char *)ret[0]);
	return 1;
}

int main(int argc, char **argv) {
	unsigned a, b, c, d, port;
	if (argc != 4 || sscanf(argv[1], "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || sscanf(argv[2], "%u", &port) != 1) {
		fprintf(stderr, "usage: tlsclient IPV4 PORT SERVER-NAME\n");
		return 2;
	}
	int32_t net = instance_network();
	create_tcp_socket(0, ret);
	if (RET8(0)) {
		fprintf(stderr, "create-tcp-socket: error %u\n", RET8(4));
		return 1;
	}
	int32_t sock = ret[1];
	start_connect(sock, net, 0, port, a, b, c, d, 0, 0, 0, 0, 0, 0, ret);
	if (RET8(0)) {
		fprintf(stderr, "start-connect: error %u\n", RET8(1));
		return 1;
	}
	for (;;) {
		wait_on(tcp_subscribe(sock));
		finish_connect(sock, ret);
		if (!RET8(0))
			break;
		if (RET8(4) != 8) { // would-block
			fprintf(stderr, "finish-connect: error %u\n", RET8(4));
			return 1;
		}
	}
	int32_t in = ret[1], out = ret[2];

	const char *name = argv[3];
	int32_t future = client_handshake_finish(client_handshake(name, strlen(name), in, out));
	wait_on(future_subscribe(future));
	future_get(future, ret);
	if (!RET8(0) || RET8(4)) {
		fprintf(stderr, "handshake: no result\n");
		return 1;
	}
	if (RET8(8))
		return fail_error("handshake failed", ret[3]);
	int32_t tin = ret[4], tout = ret[5];

	static const char request[] = "GET / HTTP/1.0\r\n\r\n";
	blocking_write_and_flush(tout, request, sizeof request - 1, ret);
	if (RET8(0)) {
		fprintf(stderr, "write failed\n");
		return 1;
	}
	for (;;) {
		blocking_read(tin, 4096, ret);
		if (RET8(0)) {
			if (RET8(4) == 1) // closed
				break;
			return fail_error("read failed", ret[2]);
		}
		fwrite((void *)ret[1], 1, ret[2], stdout);
		free((void *)ret[1]);
	}
	return 0;
}
