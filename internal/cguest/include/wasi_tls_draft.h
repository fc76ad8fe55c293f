// wasi_tls_draft.h: the client of wasi:tls/types@0.2.0-draft, the
// upstream draft (wit/deps/tls-draft). See import.h.
#ifndef WASITLS_WASI_TLS_DRAFT_H
#define WASITLS_WASI_TLS_DRAFT_H

#include "import.h"

#define WASI_TLS_DRAFT "wasi:tls/types@0.2.0-draft"

// [constructor]client-handshake: func(server-name: string, input: input-stream, output: output-stream) -> client-handshake
// The raw streams move into the handshake.
IMPORT(WASI_TLS_DRAFT, "[constructor]client-handshake")
uint32_t client_handshake_new(const char *name, uint32_t name_len, uint32_t in, uint32_t out);
// [static]client-handshake.finish: func(this: client-handshake) -> future-client-streams
IMPORT(WASI_TLS_DRAFT, "[static]client-handshake.finish")
uint32_t client_handshake_finish(uint32_t self);
// [method]future-client-streams.subscribe: func() -> pollable
IMPORT(WASI_TLS_DRAFT, "[method]future-client-streams.subscribe")
uint32_t future_client_streams_subscribe(uint32_t self);
// [method]future-client-streams.get: func() -> option<result<result<tuple<client-connection, input-stream, output-stream>, io-error>>>
// ret: some @0, the outer result's case @4 (1: got twice), the
// handshake's @8 (1: failed, the io-error's handle @12), the connection
// and the cleartext streams' handles @12, @16 and @20.
IMPORT(WASI_TLS_DRAFT, "[method]future-client-streams.get")
void future_client_streams_get(uint32_t self, void *ret);
IMPORT(WASI_TLS_DRAFT, "[resource-drop]future-client-streams")
void future_client_streams_drop(uint32_t self);
IMPORT(WASI_TLS_DRAFT, "[resource-drop]client-connection")
void client_connection_drop(uint32_t self);

#endif
