// wasitls_ext.h: the server side of the project's extensions to
// wasi:tls (wasitls:tls/extensions, wit/deps/wasitls-ext-*), functions
// that borrow the resources of wasi_tls_pr104.h. See import.h.
//
// The interface's version is 0.3.0 unless the guest defines
// WASITLS_EXT_MINOR as 2 before including this header (a component whose
// WIT world imports 0.2.0); 0.3.0 adds the resumption functions.
#ifndef WASITLS_EXT_H
#define WASITLS_EXT_H

#include "import.h"

#ifndef WASITLS_EXT_MINOR
#define WASITLS_EXT_MINOR 3
#endif
#if WASITLS_EXT_MINOR == 2
#define WASITLS_EXT "wasitls:tls/extensions@0.2.0"
#elif WASITLS_EXT_MINOR == 3
#define WASITLS_EXT "wasitls:tls/extensions@0.3.0"
#else
#error "WASITLS_EXT_MINOR: 2 or 3"
#endif

// host-identity: func(name: string) -> option<private-identity>
// ret: the handle @4.
IMPORT(WASITLS_EXT, "host-identity")
void host_identity(const char *name, uint32_t len, void *ret);
// parse-private-identity: func(private-key: list<u8>, x509-chain: list<list<u8>>) -> result<private-identity, string>
// ret: the handle @4, or the reason's ptr @4, len @8.
IMPORT(WASITLS_EXT, "parse-private-identity")
void parse_private_identity(const void *key, uint32_t key_len, const bytes_t *chain, uint32_t n, void *ret);
// client-hello-groups: func(hello: borrow<client-hello>) -> list<named-group> (named-group: u16)
// ret: ptr @0, len @4.
IMPORT(WASITLS_EXT, "client-hello-groups")
void client_hello_groups(uint32_t hello, void *ret);
// configure-server-groups: func(handshake: borrow<server-handshake>, value: list<named-group>) -> result<_, string>
// ret: the reason's ptr @4, len @8.
IMPORT(WASITLS_EXT, "configure-server-groups")
void configure_server_groups(uint32_t hs, const uint16_t *groups, uint32_t n, void *ret);
// server-negotiated-group: func(connection: borrow<server-connection>) -> option<named-group>
// ret: the value @2.
IMPORT(WASITLS_EXT, "server-negotiated-group")
void server_negotiated_group(uint32_t conn, void *ret);
// close-server-output: func(connection: borrow<server-connection>) -> result<_, string>
// ret: the reason's ptr @4, len @8.
IMPORT(WASITLS_EXT, "close-server-output")
void close_server_output(uint32_t conn, void *ret);
// server-last-error: func(connection: borrow<server-connection>) -> option<string>
// ret: ptr @4, len @8.
IMPORT(WASITLS_EXT, "server-last-error")
void server_last_error(uint32_t conn, void *ret);

#if WASITLS_EXT_MINOR >= 3
// configure-server-resumption: func(handshake: borrow<server-handshake>, enabled: bool) -> result<_, string>
// ret: the reason's ptr @4, len @8.
IMPORT(WASITLS_EXT, "configure-server-resumption")
void configure_server_resumption(uint32_t hs, uint32_t enabled, void *ret);
#endif

#endif
