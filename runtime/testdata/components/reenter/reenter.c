// reenter is a reactor component whose export run calls the host: the
// tests of a host function that calls back into the component calling
// it, or of a call from another goroutine while it waits in the host. Its
// chain interface nests destructors inside destructors (unwind).
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

#define CHAIN "example:reenter/chain@0.1.0"
__attribute__((import_module("[export]" CHAIN), import_name("[resource-new]link"))) uint32_t link_new(uint32_t rep);
__attribute__((import_module("[export]" CHAIN), import_name("[resource-drop]link"))) void link_drop(uint32_t handle);

// unwind(n) nests n destructors: link n's makes link n-1 and drops it,
// down to link 1.
__attribute__((export_name(CHAIN "#unwind"))) void unwind(uint32_t n) { link_drop(link_new(n)); }

__attribute__((export_name(CHAIN "#[dtor]link"))) void link_dtor(uint32_t rep) {
	if (rep > 1)
		link_drop(link_new(rep - 1));
}
