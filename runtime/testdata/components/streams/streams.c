// streams is a reactor component written against the Canonical ABI by
// hand (no libc): streams.wit is its world. Its exports take and return
// WASI resources the host implements, input and output streams, as
// borrowed and owned handles. As the Component Model requires, every
// function drops the borrows it was given before it returns, except keep.
#include <stdint.h>

typedef __SIZE_TYPE__ size_t;

#define EXPORT(n) __attribute__((export_name("example:streams/pipes#" n)))

// The raw wasi:io imports, one per WIT function, with the layout of their
// results.
#include "wasi_io.h"

IMPORT("wasi:cli/stdout" WASI_VERSION, "get-stdout") uint32_t get_stdout(void);

static unsigned char heap[1 << 16];
static uint32_t top;

// cabi_realloc bumps; each export starts over (nothing outlives a call).
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t oldsz, size_t align, size_t newsz) {
	(void)old, (void)oldsz;
	uint32_t p = (top + align - 1) & ~(uint32_t)(align - 1);
	if (p + newsz > sizeof heap)
		__builtin_trap();
	top = p + newsz;
	return heap + p;
}

static uint32_t ret[4] __attribute__((aligned(8)));
#define RET8(i) (((uint8_t *)ret)[i])

// failed drops the error of a failed stream operation and returns 0.
static int failed(void) {
	if (RET8(4) == 0)
		error_drop(ret[2]);
	return 0;
}

static int write_all(uint32_t out, const void *p, uint32_t n) {
	output_blocking_write_and_flush(out, p, n, ret);
	return RET8(0) ? failed() : 1;
}

// hello waits until the borrowed out is writable, then writes "hello,
// NAME\n" to it.
static uint32_t hello(uint32_t out, const char *name, uint32_t len) {
	static char line[256];
	static const char prefix[] = "hello, ";
	uint32_t n = 0;
	// A pollable on the borrowed stream, dropped before the borrow.
	uint32_t p = output_subscribe(out);
	pollable_block(p);
	pollable_drop(p);
	for (uint32_t i = 0; i < sizeof prefix - 1; i++)
		line[n++] = prefix[i];
	for (uint32_t i = 0; i < len && n < sizeof line - 1; i++)
		line[n++] = name[i];
	line[n++] = '\n';
	return write_all(out, line, n);
}

EXPORT("greet") uint32_t greet(uint32_t out, const char *name, uint32_t len) {
	uint32_t ok = hello(out, name, len);
	output_drop(out); // ends the borrow
	top = 0;
	return ok;
}

// The list outs (n handles) and option<borrow> (disc has, handle also)
// arrive flat: each handle is one borrow, ended here.
EXPORT("greet-all")
uint32_t greet_all(const uint32_t *outs, uint32_t n, uint32_t has, uint32_t also, const char *name, uint32_t len) {
	uint32_t ok = 0;
	for (uint32_t i = 0; i < n; i++) {
		ok += hello(outs[i], name, len);
		output_drop(outs[i]);
	}
	if (has) {
		ok += hello(also, name, len);
		output_drop(also);
	}
	top = 0;
	return ok;
}

EXPORT("keep-last") void keep_last(const uint32_t *outs, uint32_t n) {
	for (uint32_t i = 0; i + 1 < n; i++)
		output_drop(outs[i]);
	top = 0;
}

EXPORT("copy") uint64_t copy(uint32_t in, uint32_t out) {
	uint64_t total = 0;
	for (;;) {
		top = 0;
		input_blocking_read(in, 4096, ret);
		if (RET8(0)) {
			failed();
			break;
		}
		if (!write_all(out, (void *)ret[1], ret[2]))
			break;
		total += ret[2];
	}
	input_drop(in);
	output_drop(out);
	top = 0;
	return total;
}

EXPORT("finish") uint32_t finish(uint32_t out, const char *line, uint32_t len) {
	uint32_t ok = write_all(out, line, len) && write_all(out, "\n", 1);
	output_drop(out); // drops the stream: the caller gave it away
	top = 0;
	return ok;
}

// args is the spilled parameter tuple: the handle, then a to p.
EXPORT("write-sum") uint32_t write_sum(const uint32_t *args) {
	uint32_t sum = 0;
	for (int i = 1; i <= 16; i++)
		sum += args[i];
	char text[24] = "sum ", digits[12];
	int n = 4, d = 0;
	do
		digits[d++] = '0' + sum % 10;
	while (sum /= 10);
	while (d > 0)
		text[n++] = digits[--d];
	text[n++] = '\n';
	uint32_t ok = write_all(args[0], text, n);
	output_drop(args[0]);
	return ok;
}

EXPORT("pass") uint32_t pass(uint32_t out) { return out; }

EXPORT("stdout") uint32_t stdout_(void) { return get_stdout(); }

EXPORT("keep") void keep(uint32_t out) { (void)out; }
