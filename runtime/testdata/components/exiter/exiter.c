// exiter is a reactor written against the Canonical ABI by hand (no libc):
// exiter.wit is its world. Its listen export makes the host hold a
// listening socket on 127.0.0.1 and the network handle; quit calls
// wasi:cli/exit, and built with -DEXITER_PREVIEW1, proc-quit calls
// wasi_snapshot_preview1's proc_exit (through the preview1 adapter in a
// component, wazero's own in a core module); built with -DEXITER_INIT_EXIT,
// a core module whose _initialize exits. The tests of a reactor whose
// export exits call it once more after the exit, then close it.
#include <stdint.h>

#include "wasi_io.h"
#include "wasi_sockets.h"

typedef __SIZE_TYPE__ size_t;

static unsigned char heap[256 << 10]; // room for the preview1 adapter's stack
static uint32_t top = 8;

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t oldsz, size_t align, size_t newsz) {
	uint32_t p = (top + align - 1) & ~(uint32_t)(align - 1);
	if (old || p + newsz > sizeof heap)
		__builtin_trap();
	top = p + newsz;
	return heap + p;
}

// exit: func(status: result)
IMPORT("wasi:cli/exit" WASI_VERSION, "exit")
void cli_exit(uint32_t status);

static _Alignas(8) uint8_t ret[32];

// await_done calls f(self, ret) while it fails with would-block (8 at
// ret+1), waiting on the socket between; it traps on another error.
static void await_done(uint32_t sock, void (*f)(uint32_t, void *)) {
	for (;;) {
		f(sock, ret);
		if (!ret[0])
			return;
		if (ret[1] != 8)
			__builtin_trap();
		uint32_t p = tcp_subscribe(sock);
		pollable_block(p);
		pollable_drop(p);
	}
}

static uint32_t net, sock;

// listen binds 127.0.0.1 on a free port, listens and returns the port,
// keeping the socket and the network handle.
__attribute__((export_name("listen"))) uint32_t listen(void) {
	net = instance_network();
	create_tcp_socket(0, ret); // ipv4
	if (ret[0])
		__builtin_trap();
	sock = *(uint32_t *)(ret + 4);
	tcp_start_bind(sock, net, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, ret);
	if (ret[0])
		__builtin_trap();
	await_done(sock, tcp_finish_bind);
	tcp_start_listen(sock, ret);
	if (ret[0])
		__builtin_trap();
	await_done(sock, tcp_finish_listen);
	tcp_local_address(sock, ret);
	if (ret[0] || ret[4] != 0)
		__builtin_trap();
	return *(uint16_t *)(ret + 8);
}

// quit exits through wasi:cli/exit: status err (code 1) when fail is set,
// ok (code 0) otherwise.
__attribute__((export_name("quit"))) void quit(uint32_t fail) { cli_exit(fail != 0); }

__attribute__((export_name("add"))) uint32_t add(uint32_t a, uint32_t b) { return a + b; }

#ifdef EXITER_PREVIEW1
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_exit"))) _Noreturn void proc_exit(uint32_t code);

// proc-quit exits through preview1's proc_exit with code.
__attribute__((export_name("proc-quit"))) void proc_quit(uint32_t code) { proc_exit(code); }
#endif

#ifdef EXITER_INIT_EXIT
// _initialize exits at once with code 0: a reactor that never starts.
__attribute__((export_name("_initialize"))) void initialize(void) { cli_exit(0); }
#endif
