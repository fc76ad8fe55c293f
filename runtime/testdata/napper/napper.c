// napper is a reactor that waits inside wasi_snapshot_preview1 calls, in
// the waits wazero makes through the module configuration: nap sleeps in
// poll_oneoff for ns nanoseconds, read1 reads a byte of standard input,
// spill writes n bytes to standard output. Each returns the errno.
// pollin polls standard input beside a relative clock (see below).
#include <stdint.h>

#define P1(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))

P1("poll_oneoff") uint32_t poll_oneoff(void *in, void *out, uint32_t n, uint32_t *nevents);
P1("fd_read") uint32_t fd_read(uint32_t fd, void *iovs, uint32_t niovs, uint32_t *nread);
P1("fd_write") uint32_t fd_write(uint32_t fd, void *iovs, uint32_t niovs, uint32_t *nwritten);

static _Alignas(8) uint8_t sub[48], ev[32];
static uint32_t count, iov[2];
static uint8_t buf[1 << 20];

__attribute__((export_name("nap"))) uint32_t nap(uint64_t ns) {
	for (int i = 0; i < 48; i++)
		sub[i] = 0;
	sub[8] = 0;                      // clock
	*(uint32_t *)(sub + 16) = 1;     // monotonic
	*(uint64_t *)(sub + 24) = ns;    // relative timeout
	return poll_oneoff(sub, ev, 1, &count);
}

__attribute__((export_name("read1"))) uint32_t read1(void) {
	iov[0] = (uint32_t)buf;
	iov[1] = 1;
	return fd_read(0, iov, 1, &count);
}

__attribute__((export_name("spill"))) uint32_t spill(uint32_t n) {
	iov[0] = (uint32_t)buf;
	iov[1] = n > sizeof buf ? sizeof buf : n;
	return fd_write(1, iov, 1, &count);
}

// pollin polls standard input for reading beside a relative clock of ns
// nanoseconds and returns the errno; seen then returns a bit for each
// event poll_oneoff wrote, 1 << its userdata (1: the clock, 2: standard
// input).
static _Alignas(8) uint8_t subs[96], evs[64];

__attribute__((export_name("pollin"))) uint32_t pollin(uint64_t ns) {
	// The rest of subs stays zero.
	subs[0] = 1;                       // userdata 1: the clock
	subs[8] = 0;                       // clock
	*(uint32_t *)(subs + 16) = 1;      // monotonic
	*(uint64_t *)(subs + 24) = ns;     // relative timeout
	subs[48] = 2;                      // userdata 2: standard input
	subs[48 + 8] = 1;                  // fd_read
	*(uint32_t *)(subs + 48 + 16) = 0; // standard input
	count = 0;
	return poll_oneoff(subs, evs, 2, &count);
}

__attribute__((export_name("seen"))) uint32_t seen(void) {
	uint32_t bits = 0;
	for (uint32_t i = 0; i < count && i < 2; i++)
		bits |= 1u << evs[i * 32];
	return bits;
}
