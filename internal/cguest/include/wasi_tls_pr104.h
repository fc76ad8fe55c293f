// wasi_tls_pr104.h: the server of wasi:tls/tls@0.2.0-pr104, the full
// proposal (wit/deps/tls-pr104). See import.h.
#ifndef WASITLS_WASI_TLS_PR104_H
#define WASITLS_WASI_TLS_PR104_H

#include "import.h"

#define WASI_TLS_PR104 "wasi:tls/tls@0.2.0-pr104"

// [constructor]server-connection: func(input: input-stream, output: output-stream) -> server-connection
// The raw streams move into the connection.
IMPORT(WASI_TLS_PR104, "[constructor]server-connection")
uint32_t server_connection_new(uint32_t in, uint32_t out);
// [method]server-connection.accept: func() -> result<server-handshake>
// ret: the handle @4.
IMPORT(WASI_TLS_PR104, "[method]server-connection.accept")
void server_connection_accept(uint32_t self, void *ret);
// [method]server-connection.server-name: func() -> option<string>
// ret: ptr @4, len @8.
IMPORT(WASI_TLS_PR104, "[method]server-connection.server-name")
void server_connection_server_name(uint32_t self, void *ret);
// [method]server-connection.alpn-id: func() -> option<alpn-id> (alpn-id: list<u8>)
// ret: ptr @4, len @8.
IMPORT(WASI_TLS_PR104, "[method]server-connection.alpn-id")
void server_connection_alpn_id(uint32_t self, void *ret);
// [method]server-connection.protocol-version: func() -> option<protocol-version> (u16)
// ret: the value @2.
IMPORT(WASI_TLS_PR104, "[method]server-connection.protocol-version")
void server_connection_protocol_version(uint32_t self, void *ret);
// [method]server-connection.cipher-suite: func() -> option<cipher-suite> (u16)
// ret: the value @2.
IMPORT(WASI_TLS_PR104, "[method]server-connection.cipher-suite")
void server_connection_cipher_suite(uint32_t self, void *ret);
IMPORT(WASI_TLS_PR104, "[resource-drop]server-connection")
void server_connection_drop(uint32_t self);

// [method]server-handshake.configure-alpn-ids: func(value: list<alpn-id>) -> result
// Returns 0 ok, 1 error.
IMPORT(WASI_TLS_PR104, "[method]server-handshake.configure-alpn-ids")
uint32_t server_handshake_configure_alpn_ids(uint32_t self, const bytes_t *ids, uint32_t n);
// [method]server-handshake.configure-server-identities: func(value: list<borrow<private-identity>>) -> result
// Returns 0 ok, 1 error.
IMPORT(WASI_TLS_PR104, "[method]server-handshake.configure-server-identities")
uint32_t server_handshake_configure_server_identities(uint32_t self, const uint32_t *ids, uint32_t n);
// [method]server-handshake.receive-client-hello: func() -> result<future-client-hello>
// ret: the handle @4.
IMPORT(WASI_TLS_PR104, "[method]server-handshake.receive-client-hello")
void server_handshake_receive_client_hello(uint32_t self, void *ret);
// [static]server-handshake.finish: func(this: server-handshake) -> future-streams
IMPORT(WASI_TLS_PR104, "[static]server-handshake.finish")
uint32_t server_handshake_finish(uint32_t self);
// [static]server-handshake.abort: func(this: server-handshake) -> pollable
IMPORT(WASI_TLS_PR104, "[static]server-handshake.abort")
uint32_t server_handshake_abort(uint32_t self);

// [method]future-client-hello.subscribe: func() -> pollable
IMPORT(WASI_TLS_PR104, "[method]future-client-hello.subscribe")
uint32_t future_client_hello_subscribe(uint32_t self);
// [method]future-client-hello.get: func() -> option<result<result<client-hello>>>
// ret: some @0, the outer result's case @4 (1: got twice), the inner's @8
// (1: failed), the handle @12.
IMPORT(WASI_TLS_PR104, "[method]future-client-hello.get")
void future_client_hello_get(uint32_t self, void *ret);
IMPORT(WASI_TLS_PR104, "[resource-drop]future-client-hello")
void future_client_hello_drop(uint32_t self);
// [method]client-hello.server-name: func() -> option<string>
// ret: ptr @4, len @8.
IMPORT(WASI_TLS_PR104, "[method]client-hello.server-name")
void client_hello_server_name(uint32_t self, void *ret);
// [method]client-hello.alpn-ids: func() -> list<alpn-id>
// ret: ptr @0, len @4, each element a bytes_t.
IMPORT(WASI_TLS_PR104, "[method]client-hello.alpn-ids")
void client_hello_alpn_ids(uint32_t self, void *ret);
IMPORT(WASI_TLS_PR104, "[resource-drop]client-hello")
void client_hello_drop(uint32_t self);

// [method]future-streams.subscribe: func() -> pollable
IMPORT(WASI_TLS_PR104, "[method]future-streams.subscribe")
uint32_t future_streams_subscribe(uint32_t self);
// [method]future-streams.get: func() -> option<result<result<tuple<input-stream, output-stream>>>>
// ret: some @0, the outer result's case @4 (1: got twice), the
// handshake's @8 (1: failed), the cleartext streams' handles @12 and @16.
IMPORT(WASI_TLS_PR104, "[method]future-streams.get")
void future_streams_get(uint32_t self, void *ret);
IMPORT(WASI_TLS_PR104, "[resource-drop]future-streams")
void future_streams_drop(uint32_t self);

IMPORT(WASI_TLS_PR104, "[resource-drop]private-identity")
void private_identity_drop(uint32_t self);

#endif
