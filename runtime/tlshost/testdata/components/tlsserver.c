// tlsserver is a TLS server in C on the full wasi:tls proposal
// (wasi:tls/tls@0.2.0-pr104) and the project's extensions
// (wasitls:tls/extensions@0.2.0), written against the Canonical ABI by
// hand. It listens with wasi:sockets, and for each connection drives the
// server handshake step by step: accept, receive-client-hello, configure
// the identity and ALPN from what the client offered, finish. It answers
// one HTTP/1.1 request with what was negotiated, then closes with
// close_notify. Built with clang and wasi-libc, embedded with
// tlsserver.wit, then `jco new --wasi-command`.
//
//	tlsserver PORT CONNECTIONS IDENTITY [REQUEST-TIMEOUT-MS]
//
// IDENTITY is host:NAME, an identity the host holds (`wasitls run
// --identity NAME=CERT,KEY`; the key never enters the guest), or
// KEY-FILE,CHAIN-FILE, PEM files the guest reads from a preopen and hands
// to the host to parse. PORT 0 picks a free port; the first line printed is
// "listening on 127.0.0.1:PORT". The server serves CONNECTIONS connections
// one at a time; a client that sends no request within REQUEST-TIMEOUT-MS
// (default 10000) is dropped. The host bounds the handshake.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The raw imports, one per WIT function, with the layout of their results;
// the component's world (tlsserver.wit) imports the extensions' 0.2.0.
#define WASITLS_EXT_MINOR 2
#include "wasi_io.h"
#include "wasi_sockets.h"
#include "wasi_tls_pr104.h"
#include "wasitls_ext.h"

// Results that do not fit one value are written to a return area: ret.
// A result<_, E> or option<T> starts with its discriminant byte; the
// payload follows at its alignment.
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

// The host allocates returned lists and strings with cabi_realloc.
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align,
								 size_t new_size) {
	(void)old_size;
	(void)align;
	return realloc(old, new_size);
}

static void fail(const char *what) {
	fprintf(stderr, "tlsserver: %s\n", what);
	exit(1);
}

static void await(uint32_t pollable) {
	pollable_block(pollable);
	pollable_drop(pollable);
}

// await_result polls f(self, ret) while it reports would-block (code 8
// at ret+4 when the result carries a payload, at ret+1 otherwise).
static void await_result(uint32_t sock, void (*f)(uint32_t, void *), int code_at, const char *what) {
	for (;;) {
		f(sock, ret);
		if (!u8at(0))
			return;
		if (u8at(code_at) != 8) { // would-block
			fprintf(stderr, "tlsserver: %s: error code %u\n", what, u8at(code_at));
			exit(1);
		}
		await(tcp_subscribe(sock));
	}
}

// listen_on binds 127.0.0.1:port and listens; it returns the socket and
// prints the port it is bound to.
static uint32_t listen_on(uint16_t port) {
	uint32_t net = instance_network();
	create_tcp_socket(0, ret); // ipv4
	if (u8at(0))
		fail("create-tcp-socket");
	uint32_t sock = u32at(4);
	tcp_start_bind(sock, net, 0, port, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, ret);
	if (u8at(0))
		fail("start-bind");
	await_result(sock, tcp_finish_bind, 1, "finish-bind");
	tcp_start_listen(sock, ret);
	if (u8at(0))
		fail("start-listen");
	await_result(sock, tcp_finish_listen, 1, "finish-listen");
	tcp_local_address(sock, ret);
	if (u8at(0) || u8at(4) != 0)
		fail("local-address");
	printf("listening on 127.0.0.1:%u\n", u16at(8));
	fflush(stdout);
	network_drop(net);
	return sock;
}

static uint8_t *read_file(const char *path, size_t *len) {
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "tlsserver: cannot open %s\n", path);
		exit(1);
	}
	uint8_t *b = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		if (*len == cap && (b = realloc(b, cap = cap * 2 + 4096)) == NULL)
			fail("out of memory");
		size_t n = fread(b + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	fclose(f);
	return b;
}

// identity returns the private-identity IDENTITY names.
static uint32_t identity(const char *spec) {
	if (strncmp(spec, "host:", 5) == 0) {
		host_identity(spec + 5, strlen(spec + 5), ret);
		if (!u8at(0)) {
			fprintf(stderr, "tlsserver: the host holds no identity named %s\n", spec + 5);
			exit(1);
		}
		return u32at(4);
	}
	const char *comma = strchr(spec, ',');
	if (comma == NULL)
		fail("IDENTITY must be host:NAME or KEY-FILE,CHAIN-FILE");
	char key_path[256];
	snprintf(key_path, sizeof key_path, "%.*s", (int)(comma - spec), spec);
	size_t key_len, chain_len;
	uint8_t *key = read_file(key_path, &key_len);
	uint8_t *chain = read_file(comma + 1, &chain_len);
	bytes_t chain_list[1] = {{chain, chain_len}};
	parse_private_identity(key, key_len, chain_list, 1, ret);
	// The host keeps its own copy; the guest's goes.
	memset(key, 0, key_len);
	free(key);
	free(chain);
	if (u8at(0)) {
		fprintf(stderr, "tlsserver: parse-private-identity: %.*s\n", (int)u32at(8), (char *)u32at(4));
		exit(1);
	}
	return u32at(4);
}

// A connection being served, and what it printed about itself.
typedef struct {
	uint32_t sock, conn, in, out;
	char info[512];
	size_t n;
} conn_t;

static void note(conn_t *c, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void note(conn_t *c, const char *format, ...) {
	__builtin_va_list args;
	__builtin_va_start(args, format);
	int n = vsnprintf(c->info + c->n, sizeof c->info - c->n, format, args);
	__builtin_va_end(args);
	if (n > 0)
		c->n += (size_t)n < sizeof c->info - c->n ? (size_t)n : sizeof c->info - c->n - 1;
}

// note_bytes notes the option<string> or option<list<u8>> in ret.
static void note_option_bytes(conn_t *c, const char *label) {
	if (!u8at(0)) {
		note(c, "%s: none\n", label);
		return;
	}
	note(c, "%s: %.*s\n", label, (int)u32at(8), (char *)u32at(4));
	free((void *)u32at(4));
}

// note_u16 notes the option<u16> in ret.
static void note_u16(conn_t *c, const char *label) {
	if (u8at(0))
		note(c, "%s: 0x%04x\n", label, u16at(2));
	else
		note(c, "%s: none\n", label);
}

static void print_client_hello(uint32_t hello) {
	client_hello_server_name(hello, ret);
	if (u8at(0)) {
		printf("client hello: server-name %.*s, alpn-ids [", (int)u32at(8), (char *)u32at(4));
		free((void *)u32at(4));
	} else {
		printf("client hello: server-name none, alpn-ids [");
	}
	client_hello_alpn_ids(hello, ret);
	bytes_t *ids = (bytes_t *)u32at(0);
	for (uint32_t i = 0, n = u32at(4); i < n; i++) {
		printf("%s%.*s", i ? " " : "", (int)ids[i].len, (const char *)ids[i].ptr);
		free((void *)ids[i].ptr);
	}
	free(ids);
	printf("], groups [");
	client_hello_groups(hello, ret);
	uint16_t *groups = (uint16_t *)u32at(0);
	for (uint32_t i = 0, n = u32at(4); i < n; i++)
		printf("%s0x%04x", i ? " " : "", groups[i]);
	free(groups);
	printf("]\n");
}

static const bytes_t alpn_ids[] = {{"http/1.1", 8}};

// handshake runs the server handshake over the connection's raw streams
// and returns 0 with c->in and c->out set to the cleartext streams.
static int handshake(conn_t *c, uint32_t id) {
	server_connection_accept(c->conn, ret);
	if (u8at(0))
		fail("server-connection.accept");
	uint32_t hs = u32at(4);

	// Resume the handshake until the ClientHello arrived.
	server_handshake_receive_client_hello(hs, ret);
	if (u8at(0))
		fail("receive-client-hello");
	uint32_t future = u32at(4);
	await(future_client_hello_subscribe(future));
	future_client_hello_get(future, ret);
	future_client_hello_drop(future);
	if (!u8at(0) || u8at(4))
		fail("future-client-hello.get");
	if (u8at(8)) {
		// Resolves once the alert is out (or could not be sent).
		await(server_handshake_abort(hs));
		return 1;
	}
	uint32_t hello = u32at(12);
	print_client_hello(hello);
	client_hello_drop(hello);

	// Configure from what it offered, and finish.
	if (server_handshake_configure_server_identities(hs, &id, 1))
		fail("configure-server-identities");
	if (server_handshake_configure_alpn_ids(hs, alpn_ids, sizeof alpn_ids / sizeof alpn_ids[0]))
		fail("configure-alpn-ids");
	uint32_t streams = server_handshake_finish(hs);
	await(future_streams_subscribe(streams));
	future_streams_get(streams, ret);
	future_streams_drop(streams);
	if (!u8at(0) || u8at(4))
		fail("future-streams.get");
	if (u8at(8))
		return 1;
	c->in = u32at(12);
	c->out = u32at(16);

	server_connection_protocol_version(c->conn, ret);
	note_u16(c, "protocol-version");
	server_connection_cipher_suite(c->conn, ret);
	note_u16(c, "cipher-suite");
	server_negotiated_group(c->conn, ret);
	note_u16(c, "group");
	server_connection_alpn_id(c->conn, ret);
	note_option_bytes(c, "alpn-id");
	server_connection_server_name(c->conn, ret);
	note_option_bytes(c, "server-name");
	return 0;
}

// read_request reads until the end of the request header, or until the
// client closes, fails or sends nothing for timeout_ms. It returns the
// length read, or -1.
static int read_request(uint32_t in, char *buf, size_t cap, uint64_t timeout_ms) {
	size_t n = 0;
	uint32_t timer = subscribe_duration(timeout_ms * 1000000);
	uint32_t readable = input_subscribe(in);
	int result = -1;
	while (n < cap - 1) {
		uint32_t pollables[2] = {readable, timer};
		poll_list(pollables, 2, ret);
		uint32_t *ready = (uint32_t *)u32at(0);
		uint32_t nready = u32at(4);
		int timed_out = nready > 0 && ready[0] == 1;
		free(ready);
		if (timed_out) {
			printf("request: timed out\n");
			break;
		}
		input_blocking_read(in, cap - 1 - n, ret);
		if (u8at(0)) {
			if (u8at(4) == 0)
				error_drop(u32at(8));
			printf("request: %s\n", u8at(4) ? "closed" : "failed");
			break;
		}
		memcpy(buf + n, (void *)u32at(4), u32at(8));
		free((void *)u32at(4));
		n += u32at(8);
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n") != NULL) {
			result = (int)n;
			break;
		}
	}
	pollable_drop(readable);
	pollable_drop(timer);
	return result;
}

static void serve(conn_t *c, uint32_t id, uint64_t timeout_ms) {
	c->conn = server_connection_new(c->in, c->out); // the raw streams move in
	c->in = c->out = 0;
	if (handshake(c, id)) {
		server_last_error(c->conn, ret);
		if (u8at(0)) {
			printf("handshake failed: %.*s\n", (int)u32at(8), (char *)u32at(4));
			free((void *)u32at(4));
		} else {
			printf("handshake failed\n");
		}
		return;
	}
	fputs(c->info, stdout);

	static char req[8192];
	if (read_request(c->in, req, sizeof req, timeout_ms) < 0)
		return;
	*strstr(req, "\r\n") = 0;
	printf("request: %s\n", req);

	static char resp[1024];
	int body = snprintf(NULL, 0, "hello from a C component over wasi:tls\nrequest: %s\n%s", req, c->info);
	int n = snprintf(resp, sizeof resp,
			 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
			 "hello from a C component over wasi:tls\nrequest: %s\n%s",
			 body, req, c->info);
	if (n < 0 || (size_t)n >= sizeof resp)
		fail("response too long");
	output_blocking_write_and_flush(c->out, resp, n, ret);
	if (u8at(0)) {
		if (u8at(4) == 0)
			error_drop(u32at(8));
		printf("response: write failed\n");
		return;
	}
	// close_notify, after what was written.
	close_server_output(c->conn, ret);
	if (u8at(0)) {
		printf("close: %.*s\n", (int)u32at(8), (char *)u32at(4));
		free((void *)u32at(4));
		return;
	}
	printf("response: sent, closed\n");
}

// The module is linked as a reactor with its own _start: in a command
// module wasm-ld wraps every export, cabi_realloc too, in the C runtime's
// constructors and destructors, and the host calls cabi_realloc for every
// list and string it returns.
extern void __wasm_call_ctors(void);
extern int __main_void(void);

__attribute__((export_name("_start"))) void start(void) {
	__wasm_call_ctors();
	exit(__main_void());
}

int main(int argc, char **argv) {
	if (argc < 4 || argc > 5)
		fail("usage: tlsserver PORT CONNECTIONS IDENTITY [REQUEST-TIMEOUT-MS]");
	unsigned port = strtoul(argv[1], NULL, 10);
	long connections = strtol(argv[2], NULL, 10);
	uint64_t timeout_ms = argc == 5 ? strtoull(argv[4], NULL, 10) : 10000;
	uint32_t id = identity(argv[3]);
	uint32_t ln = listen_on(port);
	for (long i = 0; i < connections; i++) {
		conn_t c = {0};
		tcp_accept(ln, ret);
		if (u8at(0)) {
			if (u8at(4) != 8) // would-block
				fail("accept");
			await(tcp_subscribe(ln));
			i--;
			continue;
		}
		c.sock = u32at(4), c.in = u32at(8), c.out = u32at(12);
		serve(&c, id, timeout_ms);
		fflush(stdout);
		if (c.in)
			input_drop(c.in);
		if (c.out)
			output_drop(c.out);
		server_connection_drop(c.conn);
		tcp_drop(c.sock);
	}
	tcp_drop(ln);
	private_identity_drop(id);
	return 0;
}
