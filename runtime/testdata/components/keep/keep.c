// keep is a command component (no libc) whose run passes the host a
// string in its memory: the tests of a host function that keeps the
// memory of the core module that called it.
#include <stddef.h>
#include <stdint.h>

__attribute__((import_module("example:keep/host@0.1.0"), import_name("keep"))) void host_keep(const char *s, size_t len);

// run: func() -> result, ok.
__attribute__((export_name("wasi:cli/run@0.2.8#run"))) uint32_t run(void) {
	host_keep("kept", 4);
	return 0;
}
