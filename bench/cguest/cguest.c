// cguest is the C benchmark guest of package bench: the host's floor. It
// speaks wasi:tls@0.2.0-draft through raw canonical-ABI imports and only
// blocking host calls (pollable.block, blocking-read,
// blocking-write-and-flush): no scheduler, no goroutines, no allocation on
// the data path, and no call back into the guest for a read's bytes (the
// offer slot, see cabi_offer_slot). Package bench builds it with clang and wasi-libc into a
// wasip1 module with a _start (see start) and runs it like the Go guest:
//
//	client ADDR NAME   one connection; obey the server's commands (package
//	                   bench/internal/protocol) until it sends quit
//	dialer ADDR NAME   read a count N per line on stdin, run N full
//	                   handshakes (connect, handshake, read one byte,
//	                   close), answer "ok" on stdout
//	tcp-dialer ADDR    as dialer with no TLS: connect, read one byte from
//	                   the socket's streams, close
//	floor client|server WAITS
//	                   read a count N per line on stdin, run N
//	                   "connections" of the host calls of the Go guest's
//	                   floor mode (bench/testdata/benchguest/floor.go),
//	                   answer "ok": WAITS waits (a server one more, its
//	                   accept loop's) on a zero-duration clock pollable,
//	                   each polled beside a pollable that is never ready
//
// ADDR is an IPv4 address and port. The draft has no server side and no
// way to choose groups: the host's configuration (tlshost.Config.Groups)
// decides what the client offers.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The raw imports, one per WIT function, with the layout of their results.
#include "wasi_io.h"
#include "wasi_sockets.h"
#include "wasi_tls_draft.h"

// ret is the return area of every call (the largest result is 16 bytes).
static _Alignas(8) uint8_t ret[32];

static uint8_t u8at(int off) { return ret[off]; }
static uint32_t u32at(int off) {
	uint32_t v;
	memcpy(&v, ret + off, 4);
	return v;
}

// The host places a read's bytes with cabi_realloc; a read offers its
// buffer so that the bytes land there without a copy. The offer is the
// host's offer slot (cabi_offer_slot, as the Go guest library exports it):
// {ptr, size, served, zero}, little-endian uint32s. The host serves a
// fresh allocation of an import from it by cabi_realloc's own rules below,
// writing the slot as cabi_realloc does, without calling into the guest.
static struct {
	uint32_t ptr, size, served, zero;
} offer;
static uint8_t empty; // where every zero-sized allocation points

__attribute__((export_name("cabi_offer_slot"))) void *cabi_offer_slot(void) {
	offer.zero = (uint32_t)(uintptr_t)&empty;
	return &offer;
}

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align,
								 size_t new_size) {
	(void)old_size;
	if (old == NULL && new_size == 0)
		return &empty;
	if (old == NULL && offer.ptr != 0 && new_size <= offer.size && align != 0 && offer.ptr % align == 0) {
		void *p = (void *)(uintptr_t)offer.ptr;
		offer.ptr = 0, offer.size = 0, offer.served = (uint32_t)(uintptr_t)p;
		return p;
	}
	return realloc(old, new_size);
}

static void fail(const char *what) {
	printf("error: %s\n", what);
	fflush(stdout);
	exit(1);
}

// fail_stream reports a stream-error at ret+4: last-operation-failed(error)
// or closed.
static void fail_stream(const char *what) {
	if (u8at(4) == 1) {
		printf("error: %s: stream closed\n", what);
	} else {
		uint32_t err = u32at(8);
		error_to_debug_string(err, ret);
		printf("error: %s: %.*s\n", what, (int)u32at(4), (const char *)(uintptr_t)u32at(0));
	}
	fflush(stdout);
	exit(1);
}

typedef struct {
	uint32_t socket, conn, in, out;
} conn_t;

static uint32_t network;

// connect_tcp connects c.socket to addr:port (IPv4, network byte order in
// a) and sets c.in and c.out to the socket's streams.
static void connect_tcp(conn_t *c, const uint8_t a[4], uint16_t port) {
	create_tcp_socket(0, ret);
	if (u8at(0))
		fail("create-tcp-socket");
	c->socket = u32at(4);
	tcp_start_connect(c->socket, network, 0, port, a[0], a[1], a[2], a[3], 0, 0, 0, 0, 0, 0, ret);
	if (u8at(0))
		fail("start-connect");
	uint32_t p = tcp_subscribe(c->socket);
	for (;;) {
		tcp_finish_connect(c->socket, ret);
		if (!u8at(0))
			break;
		if (u8at(4) != 8) // would-block
			fail("finish-connect");
		pollable_block(p);
	}
	pollable_drop(p);
	c->in = u32at(4);
	c->out = u32at(8);
}

// dial connects to addr:port and runs the TLS handshake for name.
static conn_t dial(const uint8_t a[4], uint16_t port, const char *name) {
	conn_t c;
	connect_tcp(&c, a, port);
	uint32_t hs = client_handshake_new(name, strlen(name), c.in, c.out);
	uint32_t fut = client_handshake_finish(hs);
	uint32_t p = future_client_streams_subscribe(fut);
	pollable_block(p);
	pollable_drop(p);
	future_client_streams_get(fut, ret);
	future_client_streams_drop(fut);
	if (!u8at(0) || u8at(4))
		fail("future-client-streams.get");
	if (u8at(8)) {
		error_to_debug_string(u32at(12), ret);
		printf("error: handshake: %.*s\n", (int)u32at(4), (const char *)(uintptr_t)u32at(0));
		fflush(stdout);
		exit(1);
	}
	c.conn = u32at(12);
	c.in = u32at(16);
	c.out = u32at(20);
	return c;
}

// hang_up drops c's resources (a plain TCP connection's when c.conn is 0).
static void hang_up(conn_t c) {
	input_drop(c.in);
	output_drop(c.out);
	if (c.conn != 0)
		client_connection_drop(c.conn);
	tcp_drop(c.socket);
}

// read_some reads 1 to n bytes into p.
static size_t read_some(conn_t c, uint8_t *p, size_t n) {
	offer.ptr = (uint32_t)(uintptr_t)p, offer.size = n;
	input_blocking_read(c.in, n, ret);
	offer.ptr = 0, offer.size = 0;
	if (u8at(0))
		fail_stream("read");
	uint8_t *got = (uint8_t *)(uintptr_t)u32at(4);
	size_t len = u32at(8);
	if (got != p && len > 0) { // not placed in p (cannot happen with this host)
		memcpy(p, got, len);
		free(got);
	}
	return len;
}

static void read_full(conn_t c, uint8_t *p, size_t n) {
	while (n > 0) {
		size_t k = read_some(c, p, n);
		p += k;
		n -= k;
	}
}

static void write_all(conn_t c, const uint8_t *p, size_t n) {
	output_blocking_write_and_flush(c.out, p, n, ret);
	if (u8at(0))
		fail_stream("write");
}

static uint64_t be64(const uint8_t *p) {
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

// obey carries out the commands of package bench/internal/protocol.
static void obey(conn_t c) {
	uint8_t hdr[13];
	uint8_t *buf = NULL;
	size_t cap = 0;
	for (;;) {
		read_full(c, hdr, sizeof hdr);
		uint64_t n = be64(hdr + 1);
		size_t w = (size_t)hdr[9] << 24 | (size_t)hdr[10] << 16 | (size_t)hdr[11] << 8 | hdr[12];
		if (w > cap) {
			free(buf);
			buf = calloc(1, w);
			cap = w;
			if (buf == NULL)
				fail("out of memory");
		}
		switch (hdr[0]) {
		case 'U':
			while (n > 0) {
				size_t k = n < w ? n : w;
				write_all(c, buf, k);
				n -= k;
			}
			break;
		case 'D':
			while (n > 0)
				n -= read_some(c, buf, n < w ? n : w);
			write_all(c, buf, 1);
			break;
		case 'E':
			for (; n > 0; n--) {
				write_all(c, buf, 1);
				read_full(c, buf, 1);
			}
			break;
		case 'Q':
			free(buf);
			return;
		default:
			fail("unknown command");
		}
	}
}

static void parse_addr(const char *s, uint8_t a[4], uint16_t *port) {
	unsigned b0, b1, b2, b3, p;
	if (sscanf(s, "%u.%u.%u.%u:%u", &b0, &b1, &b2, &b3, &p) != 5)
		fail("ADDR must be IPv4:PORT");
	a[0] = b0, a[1] = b1, a[2] = b2, a[3] = b3;
	*port = p;
}

// The module is linked as a reactor with its own _start: in a command
// module wasm-ld wraps every export, cabi_realloc too, in the C runtime's
// constructors and destructors (stdio's exit flush among them), and a
// read the offer slot cannot serve calls cabi_realloc.
extern void __wasm_call_ctors(void);
extern int __main_void(void);

__attribute__((export_name("_start"))) void start(void) {
	__wasm_call_ctors();
	exit(__main_void());
}

// floor runs the floor mode's connections: per connection, waits (one
// more for a server) of subscribe-duration(0), poll and drop, the host
// calls of the Go guest's floor with none of its goroutines.
static void floor_mode(const char *kind, const char *waits_arg) {
	int server = strcmp(kind, "server") == 0;
	if (!server && strcmp(kind, "client") != 0)
		fail("floor: want client|server WAITS");
	long waits = strtol(waits_arg, NULL, 10) + server;
	uint32_t list[2];
	static uint32_t ready[2]; // the poll's result, placed by the offer slot
	list[0] = subscribe_duration(24ull * 3600 * 1000000000); // never ready
	char line[64];
	while (fgets(line, sizeof line, stdin) != NULL) {
		long n = strtol(line, NULL, 10);
		for (long i = 0; i < n; i++) {
			for (long w = 0; w < waits; w++) {
				list[1] = subscribe_duration(0);
				offer.ptr = (uint32_t)(uintptr_t)ready, offer.size = sizeof ready;
				poll_list(list, 2, ret);
				offer.ptr = 0, offer.size = 0;
				uint32_t *got = (uint32_t *)(uintptr_t)u32at(0);
				if (u32at(4) != 1 || got[0] != 1)
					fail("floor: poll");
				if (got != ready) // not placed by the offer slot
					free(got);
				pollable_drop(list[1]);
			}
		}
		printf("ok\n");
		fflush(stdout);
	}
	pollable_drop(list[0]);
}

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "floor") == 0) {
		floor_mode(argv[2], argv[3]);
		return 0;
	}
	int tcp = argc == 3 && strcmp(argv[1], "tcp-dialer") == 0;
	if (argc != 4 && !tcp)
		fail("usage: cguest client|dialer ADDR NAME | tcp-dialer ADDR");
	uint8_t a[4];
	uint16_t port;
	parse_addr(argv[2], a, &port);
	network = instance_network();
	if (strcmp(argv[1], "client") == 0) {
		conn_t c = dial(a, port, argv[3]);
		obey(c);
		hang_up(c);
	} else if (tcp || strcmp(argv[1], "dialer") == 0) {
		char line[64];
		uint8_t b;
		while (fgets(line, sizeof line, stdin) != NULL) {
			long n = strtol(line, NULL, 10);
			for (long i = 0; i < n; i++) {
				conn_t c = {0};
				if (tcp)
					connect_tcp(&c, a, port);
				else
					c = dial(a, port, argv[3]);
				read_full(c, &b, 1);
				hang_up(c);
			}
			printf("ok\n");
			fflush(stdout);
		}
	} else {
		fail("unknown mode");
	}
	network_drop(network);
	return 0;
}
