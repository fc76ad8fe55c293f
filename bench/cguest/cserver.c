// cserver is the C benchmark guest server of package bench: the host's
// floor for the rows where the guest is the TLS server. The draft
// interface cguest.c speaks has no server side, so this one speaks the
// full proposal (wasi:tls/tls@0.2.0-pr104) with the project's extensions
// (wasitls:tls/extensions@0.3.0), through raw canonical-ABI imports and
// waits on one pollable at a time (the listener, the handshake), with no
// scheduler: it serves one connection after the other. Package bench
// builds it with clang and wasi-libc, as cguest.c, into a wasip1 module
// with a _start and runs it like the Go guest's server:
//
//	server GROUP [HOLD-MS]   listen on 127.0.0.1:0, print "listening
//	                         ADDR"; per connection: handshake, write one
//	                         byte, then hold the connection until the
//	                         peer closes it, or sends nothing for HOLD-MS
//	                         (default 60000)
//
// GROUP is the key-exchange group the server accepts (an IANA code point
// in decimal); 0 serves plain TCP, the same per connection on the
// socket's own streams with no TLS. The identity comes from the environment as PEM, KEY and
// CHAIN, and is parsed by the host. As the Go guest's server, it issues
// no session ticket: a full handshake is what is measured. A connection
// that fails (a handshake the client broke off, a peer that reset) is
// reported on stdout and dropped; the server goes on with the next.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The raw imports, one per WIT function, with the layout of their results.
#include "wasi_io.h"
#include "wasi_sockets.h"
#include "wasi_tls_pr104.h"
#include "wasitls_ext.h"

// Results that do not fit one value are written to a return area, ret. A
// result or option starts with its discriminant byte (0 ok / none, 1 err /
// some); the payload follows at its alignment, @4 for the handles, lists
// and strings here. A list<T> or string is a pointer and a length.
static _Alignas(8) uint8_t ret[32];

static uint8_t u8at(int off) { return ret[off]; }
static uint16_t u16at(int off) {
	uint16_t v;
	memcpy(&v, ret + off, 2);
	return v;
}
static uint32_t u32at(int off) {
	uint32_t v;
	memcpy(&v, ret + off, 4);
	return v;
}

// The host allocates the lists and strings it returns with cabi_realloc.
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align,
								 size_t new_size) {
	(void)old_size;
	(void)align;
	return realloc(old, new_size);
}

static void fail(const char *what) {
	printf("error: %s\n", what);
	fflush(stdout);
	exit(1);
}

// fail_reason fails with the string of the result<_, string> in ret.
static void fail_reason(const char *what) {
	printf("error: %s: %.*s\n", what, (int)u32at(8), (const char *)(uintptr_t)u32at(4));
	fflush(stdout);
	exit(1);
}

// await_socket calls f(sock, ret) (finish-bind, finish-listen) until it no
// longer reports would-block (code 8 @1).
static void await_socket(uint32_t sock, void (*f)(uint32_t, void *), const char *what) {
	for (;;) {
		f(sock, ret);
		if (!u8at(0))
			return;
		if (u8at(1) != 8)
			fail(what);
		uint32_t p = tcp_subscribe(sock);
		pollable_block(p);
		pollable_drop(p);
	}
}

// listen_any listens on 127.0.0.1 at a port the system picks and returns
// the socket; addr gets its "a.b.c.d:port".
static uint32_t listen_any(char addr[22]) {
	uint32_t network = instance_network();
	create_tcp_socket(0, ret); // ipv4
	if (u8at(0))
		fail("create-tcp-socket");
	uint32_t sock = u32at(4);
	tcp_start_bind(sock, network, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, ret);
	if (u8at(0))
		fail("start-bind");
	await_socket(sock, tcp_finish_bind, "finish-bind");
	tcp_start_listen(sock, ret);
	if (u8at(0))
		fail("start-listen");
	await_socket(sock, tcp_finish_listen, "finish-listen");
	tcp_local_address(sock, ret);
	if (u8at(0) || u8at(4) != 0)
		fail("local-address");
	snprintf(addr, 22, "%u.%u.%u.%u:%u", u8at(10), u8at(11), u8at(12), u8at(13), u16at(8));
	network_drop(network);
	return sock;
}

// identity hands the PEM key and chain of $KEY and $CHAIN to the host.
static uint32_t identity(void) {
	const char *key = getenv("KEY"), *chain = getenv("CHAIN");
	if (key == NULL || chain == NULL)
		fail("no identity in $KEY and $CHAIN");
	bytes_t chain_list[1] = {{chain, strlen(chain)}};
	parse_private_identity(key, strlen(key), chain_list, 1, ret);
	if (u8at(0))
		fail_reason("parse-private-identity");
	return u32at(4);
}

// A connection being served: the socket, the TLS connection and its
// cleartext streams (0 until the handshake gave them).
typedef struct {
	uint32_t sock, conn, in, out;
} conn_t;

// report prints why the connection failed: the handshake's reason as the
// host has it (server-last-error), else what failed.
static void report(conn_t *c, const char *what) {
	if (c->conn == 0) { // plain TCP
		printf("connection: %s\n", what);
		fflush(stdout);
		return;
	}
	server_last_error(c->conn, ret);
	if (u8at(0)) {
		printf("connection: %s: %.*s\n", what, (int)u32at(8), (const char *)(uintptr_t)u32at(4));
		free((void *)(uintptr_t)u32at(4));
	} else {
		printf("connection: %s\n", what);
	}
	fflush(stdout);
}

// handshake runs the server handshake for identity id and group; on
// success it sets c->in and c->out to the cleartext streams and returns 0.
static int handshake(conn_t *c, uint32_t id, uint16_t group) {
	server_connection_accept(c->conn, ret);
	if (u8at(0)) {
		report(c, "server-connection.accept refused");
		return 1;
	}
	uint32_t hs = u32at(4);
	if (server_handshake_configure_server_identities(hs, &id, 1))
		fail("configure-server-identities");
	configure_server_groups(hs, &group, 1, ret);
	if (u8at(0))
		fail_reason("configure-server-groups");
	configure_server_resumption(hs, 0, ret);
	if (u8at(0))
		fail_reason("configure-server-resumption");
	// finish consumes the handshake; waiting for the future alone runs the
	// handshake on this call.
	uint32_t fut = server_handshake_finish(hs);
	uint32_t p = future_streams_subscribe(fut);
	pollable_block(p);
	pollable_drop(p);
	future_streams_get(fut, ret);
	future_streams_drop(fut);
	if (!u8at(0) || u8at(4))
		fail("future-streams.get");
	if (u8at(8)) {
		report(c, "handshake failed");
		return 1;
	}
	c->in = u32at(12);
	c->out = u32at(16);
	return 0;
}

// stream_failed reports the stream-error @4 of a failed read or write and
// drops its error resource.
static void stream_failed(conn_t *c, const char *what) {
	if (u8at(4) == 0) {
		error_drop(u32at(8));
		report(c, what);
	}
}

// hold waits until the peer closes the connection (its close_notify or
// end of stream ends the cleartext input), fails, or sends nothing for
// hold_ns; what it sends is read and dropped.
static void hold(conn_t *c, uint64_t hold_ns) {
	uint32_t readable = input_subscribe(c->in);
	uint32_t timer = subscribe_duration(hold_ns);
	for (;;) {
		uint32_t pollables[2] = {readable, timer};
		poll_list(pollables, 2, ret);
		uint32_t *ready = (uint32_t *)(uintptr_t)u32at(0);
		int can_read = 0;
		for (uint32_t i = 0; i < u32at(4); i++)
			can_read |= ready[i] == 0;
		free(ready);
		if (!can_read) {
			printf("connection: the peer sent nothing for %llu ms: dropped\n",
			       (unsigned long long)(hold_ns / 1000000));
			fflush(stdout);
			break;
		}
		input_read(c->in, 4096, ret);
		if (u8at(0)) {
			stream_failed(c, "read failed"); // closed: the peer's end
			break;
		}
		free((void *)(uintptr_t)u32at(4));
		if (u32at(8) > 0) { // what the peer sends restarts the wait
			pollable_drop(timer);
			timer = subscribe_duration(hold_ns);
		}
	}
	pollable_drop(timer);
	pollable_drop(readable);
}

static void serve(conn_t *c, uint32_t id, uint16_t group, uint64_t hold_ns) {
	if (group != 0 && handshake(c, id, group))
		return;
	static const uint8_t one = 1;
	output_blocking_write_and_flush(c->out, &one, 1, ret);
	if (u8at(0)) {
		stream_failed(c, "write failed");
		return;
	}
	hold(c, hold_ns);
}

// The module is linked as a reactor with its own _start, as cguest.c: in a
// command module wasm-ld wraps every export, cabi_realloc too, in the C
// runtime's constructors and destructors.
extern void __wasm_call_ctors(void);
extern int __main_void(void);

__attribute__((export_name("_start"))) void start(void) {
	__wasm_call_ctors();
	exit(__main_void());
}

int main(int argc, char **argv) {
	if (argc < 3 || argc > 4 || strcmp(argv[1], "server") != 0)
		fail("usage: cserver server GROUP [HOLD-MS]");
	uint16_t group = (uint16_t)strtoul(argv[2], NULL, 10);
	uint64_t hold_ns = (argc == 4 ? strtoull(argv[3], NULL, 10) : 60000) * 1000000;
	uint32_t id = group != 0 ? identity() : 0;
	char addr[22];
	uint32_t ln = listen_any(addr);
	uint32_t acceptable = tcp_subscribe(ln);
	// "listening" comes once the server holds what it holds between
	// connections (identity, listener, pollable), so that a count of its
	// handles taken then is the count every connection must return to.
	printf("listening %s\n", addr);
	fflush(stdout);
	for (;;) {
		tcp_accept(ln, ret);
		if (u8at(0)) {
			switch (u8at(4)) {
			case 8: // would-block
				pollable_block(acceptable);
				continue;
			case 15: // connection-reset
			case 16: // connection-aborted
				continue;
			}
			fail("accept");
		}
		conn_t c = {.sock = u32at(4)};
		if (group == 0) // plain TCP: the socket's own streams
			c.in = u32at(8), c.out = u32at(12);
		else
			c.conn = server_connection_new(u32at(8), u32at(12));
		serve(&c, id, group, hold_ns);
		if (c.in) {
			input_drop(c.in);
			output_drop(c.out);
		}
		if (c.conn)
			server_connection_drop(c.conn);
		tcp_drop(c.sock);
	}
	// The server runs until the host closes it.
}
