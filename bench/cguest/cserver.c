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
// in decimal). The identity comes from the environment as PEM, KEY and
// CHAIN, and is parsed by the host. As the Go guest's server, it issues
// no session ticket: a full handshake is what is measured. A connection
// that fails (a handshake the client broke off, a peer that reset) is
// reported on stdout and dropped; the server goes on with the next.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define SOCK "@0.2.8"
#define TLS "wasi:tls/tls@0.2.0-pr104"
#define EXT "wasitls:tls/extensions@0.3.0"

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

// A list<u8> or string as the Canonical ABI lays it out in a list.
typedef struct {
	const void *ptr;
	uint32_t len;
} bytes_t;

// ---- wasi:sockets, wasi:io, wasi:clocks ----

IMPORT("wasi:sockets/instance-network" SOCK, "instance-network")
uint32_t instance_network(void);
IMPORT("wasi:sockets/network" SOCK, "[resource-drop]network")
void network_drop(uint32_t self);
// result<own<tcp-socket>, error-code>: the handle @4.
IMPORT("wasi:sockets/tcp-create-socket" SOCK, "create-tcp-socket")
void create_tcp_socket(uint32_t family, void *ret);
// ip-socket-address flattens to its discriminant and 11 values; the ipv4
// case uses the port and the four address bytes. result<_, error-code>.
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.start-bind")
void tcp_start_bind(uint32_t self, uint32_t network, uint32_t tag, uint32_t port, uint32_t a0, uint32_t a1,
		    uint32_t a2, uint32_t a3, uint32_t p6, uint32_t p7, uint32_t p8, uint32_t p9, uint32_t p10,
		    uint32_t p11, void *ret);
// result<_, error-code>: the code u8 @1.
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.finish-bind")
void tcp_finish_bind(uint32_t self, void *ret);
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.start-listen")
void tcp_start_listen(uint32_t self, void *ret);
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.finish-listen")
void tcp_finish_listen(uint32_t self, void *ret);
// result<tuple<own<tcp-socket>, own<input-stream>, own<output-stream>>,
// error-code>: the handles @4, @8, @12, or the code u8 @4.
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.accept")
void tcp_accept(uint32_t self, void *ret);
// result<ip-socket-address, error-code>: the address's case u8 @4; ipv4:
// the port u16 @8, the address bytes @10.
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.local-address")
void tcp_local_address(uint32_t self, void *ret);
IMPORT("wasi:sockets/tcp" SOCK, "[method]tcp-socket.subscribe")
uint32_t tcp_subscribe(uint32_t self);
IMPORT("wasi:sockets/tcp" SOCK, "[resource-drop]tcp-socket")
void tcp_drop(uint32_t self);

IMPORT("wasi:io/poll" SOCK, "[method]pollable.block")
void pollable_block(uint32_t self);
IMPORT("wasi:io/poll" SOCK, "[resource-drop]pollable")
void pollable_drop(uint32_t self);
// poll(list<borrow<pollable>>) -> list<u32>: the indexes ready, ptr @0,
// len @4.
IMPORT("wasi:io/poll" SOCK, "poll")
void poll_list(const uint32_t *pollables, uint32_t n, void *ret);
IMPORT("wasi:io/error" SOCK, "[resource-drop]error")
void error_drop(uint32_t self);
// result<list<u8>, stream-error>: the list @4 (ptr) and @8 (len), or the
// stream-error's case u8 @4 (0 last-operation-failed, 1 closed) and the
// error's handle @8.
IMPORT("wasi:io/streams" SOCK, "[method]input-stream.read")
void input_read(uint32_t self, uint64_t len, void *ret);
IMPORT("wasi:io/streams" SOCK, "[method]input-stream.subscribe")
uint32_t input_subscribe(uint32_t self);
IMPORT("wasi:io/streams" SOCK, "[resource-drop]input-stream")
void input_drop(uint32_t self);
// result<_, stream-error>: as above.
IMPORT("wasi:io/streams" SOCK, "[method]output-stream.blocking-write-and-flush")
void output_blocking_write_and_flush(uint32_t self, const void *p, uint32_t n, void *ret);
IMPORT("wasi:io/streams" SOCK, "[resource-drop]output-stream")
void output_drop(uint32_t self);
IMPORT("wasi:clocks/monotonic-clock" SOCK, "subscribe-duration")
uint32_t subscribe_duration(uint64_t ns);

// ---- wasi:tls/tls@0.2.0-pr104 ----

// The raw streams move into the connection.
IMPORT(TLS, "[constructor]server-connection")
uint32_t server_connection_new(uint32_t in, uint32_t out);
// result<own<server-handshake>>: the handle @4.
IMPORT(TLS, "[method]server-connection.accept")
void server_connection_accept(uint32_t self, void *ret);
IMPORT(TLS, "[resource-drop]server-connection")
void server_connection_drop(uint32_t self);
// A result without payloads is one value: 0 ok, 1 error.
IMPORT(TLS, "[method]server-handshake.configure-server-identities")
uint32_t server_handshake_configure_server_identities(uint32_t self, const uint32_t *ids, uint32_t n);
IMPORT(TLS, "[static]server-handshake.finish")
uint32_t server_handshake_finish(uint32_t self);
IMPORT(TLS, "[method]future-streams.subscribe")
uint32_t future_streams_subscribe(uint32_t self);
// option<result<result<tuple<own<input-stream>, own<output-stream>>>>>:
// some u8 @0, the outer result's case @4 (1: got twice), the handshake's
// @8 (1: failed), the cleartext streams' handles @12 and @16.
IMPORT(TLS, "[method]future-streams.get")
void future_streams_get(uint32_t self, void *ret);
IMPORT(TLS, "[resource-drop]future-streams")
void future_streams_drop(uint32_t self);

// ---- wasitls:tls/extensions@0.3.0 ----

// result<own<private-identity>, string>: the handle @4, or the reason @4
// (ptr) and @8 (len).
IMPORT(EXT, "parse-private-identity")
void parse_private_identity(const void *key, uint32_t key_len, const bytes_t *chain, uint32_t n, void *ret);
// result<_, string>: the reason @4 (ptr) and @8 (len).
IMPORT(EXT, "configure-server-groups")
void configure_server_groups(uint32_t hs, const uint16_t *groups, uint32_t n, void *ret);
IMPORT(EXT, "configure-server-resumption")
void configure_server_resumption(uint32_t hs, uint32_t enabled, void *ret);
// option<string>: the string @4 (ptr) and @8 (len).
IMPORT(EXT, "server-last-error")
void server_last_error(uint32_t conn, void *ret);

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

// listen_any listens on 127.0.0.1 at a port the system picks, and prints
// "listening ADDR".
static uint32_t listen_any(void) {
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
	printf("listening %u.%u.%u.%u:%u\n", u8at(10), u8at(11), u8at(12), u8at(13), u16at(8));
	fflush(stdout);
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
	if (handshake(c, id, group))
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
	uint32_t id = identity();
	uint32_t ln = listen_any();
	uint32_t acceptable = tcp_subscribe(ln);
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
		c.conn = server_connection_new(u32at(8), u32at(12));
		serve(&c, id, group, hold_ns);
		if (c.in) {
			input_drop(c.in);
			output_drop(c.out);
		}
		server_connection_drop(c.conn);
		tcp_drop(c.sock);
	}
	// The server runs until the host closes it.
}
