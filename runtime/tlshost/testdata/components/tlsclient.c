// tlsclient is the design text's minimal TLS client in C, written against
// the Canonical ABI by hand: it connects to ADDR:PORT with wasi:sockets,
// runs a TLS handshake for NAME through the upstream wasi:tls@0.2.0-draft,
// sends "GET / HTTP/1.0" and copies the answer to stdout. Built with clang
// and wasi-libc, embedded with tlsclient.wit, then `jco new --wasi-command`.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The raw imports, one per WIT function, with the layout of their results.
#include "wasi_io.h"
#include "wasi_sockets.h"
#include "wasi_tls_draft.h"

// The host allocates returned lists and strings here.
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t oldsz, size_t align, size_t newsz) {
	(void)oldsz, (void)align;
	return realloc(old, newsz);
}

static uint32_t ret[8];
#define RET8(i) (((uint8_t *)ret)[i])

static void wait_on(uint32_t pollable) {
	pollable_block(pollable);
	pollable_drop(pollable);
}

static int fail_error(const char *what, uint32_t err) {
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
	uint32_t net = instance_network();
	create_tcp_socket(0, ret);
	if (RET8(0)) {
		fprintf(stderr, "create-tcp-socket: error %u\n", RET8(4));
		return 1;
	}
	uint32_t sock = ret[1];
	tcp_start_connect(sock, net, 0, port, a, b, c, d, 0, 0, 0, 0, 0, 0, ret);
	if (RET8(0)) {
		fprintf(stderr, "start-connect: error %u\n", RET8(1));
		return 1;
	}
	for (;;) {
		wait_on(tcp_subscribe(sock));
		tcp_finish_connect(sock, ret);
		if (!RET8(0))
			break;
		if (RET8(4) != 8) { // would-block
			fprintf(stderr, "finish-connect: error %u\n", RET8(4));
			return 1;
		}
	}
	uint32_t in = ret[1], out = ret[2];

	const char *name = argv[3];
	uint32_t future = client_handshake_finish(client_handshake_new(name, strlen(name), in, out));
	wait_on(future_client_streams_subscribe(future));
	future_client_streams_get(future, ret);
	if (!RET8(0) || RET8(4)) {
		fprintf(stderr, "handshake: no result\n");
		return 1;
	}
	if (RET8(8))
		return fail_error("handshake failed", ret[3]);
	uint32_t tin = ret[4], tout = ret[5];

	static const char request[] = "GET / HTTP/1.0\r\n\r\n";
	output_blocking_write_and_flush(tout, request, sizeof request - 1, ret);
	if (RET8(0)) {
		fprintf(stderr, "write failed\n");
		return 1;
	}
	for (;;) {
		input_blocking_read(tin, 4096, ret);
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
