// reenter is a reactor component whose one export calls the host: the
// tests of a host function that calls back into the component calling
// it, or of a call from another goroutine while it waits in the host.
#include <stdint.h>

__attribute__((import_module("example:reenter/host@0.1.0"), import_name("callback"))) uint32_t host_callback(uint32_t n);

static uint32_t depth;

// run returns the host's answer plus one; it traps if it is ever entered
// while a call of it is in progress, which the host must prevent.
__attribute__((export_name("run"))) uint32_t run(uint32_t n) {
	if (depth)
		__builtin_trap();
	depth++;
	uint32_t r = host_callback(n) + 1;
	depth--;
	return r;
}
