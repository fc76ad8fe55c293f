// closecall is a reactor whose export test:close/api#churn calls
// wasi_snapshot_preview1 without end: it reads the clock, writes a byte
// to standard output and reads the arguments' sizes, the calls that read
// the system context wazero keeps for the module. It returns only when a
// call fails (the guest stopped).
#include <stdint.h>

#define P1(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))

P1("clock_time_get") uint32_t clock_time_get(uint32_t id, uint64_t precision, uint64_t *time);
P1("fd_write") uint32_t fd_write(uint32_t fd, void *iovs, uint32_t niovs, uint32_t *nwritten);
P1("args_sizes_get") uint32_t args_sizes_get(uint32_t *argc, uint32_t *argv_buf_size);

static uint64_t now;
static uint32_t count, argc, argvsz, iov[2];
static uint8_t byte = 'x';

__attribute__((export_name("test:close/api#churn"))) void churn(void) {
	iov[0] = (uint32_t)&byte;
	iov[1] = 1;
	for (;;) {
		if (clock_time_get(0, 1, &now) || fd_write(1, iov, 1, &count) || args_sizes_get(&argc, &argvsz))
			return;
	}
}
