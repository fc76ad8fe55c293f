// A reactor component whose export spin loops without end in pure wasm,
// and whose export boom traps (unreachable), for the stop flag's tests.
#include <stdint.h>

static volatile uint32_t n;

__attribute__((export_name("spin"))) void spin(void) {
	for (;;) {
		n++;
	}
}

__attribute__((export_name("boom"))) void boom(void) { __builtin_trap(); }
