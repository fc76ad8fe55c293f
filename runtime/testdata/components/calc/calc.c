// calc is a reactor component written against the Canonical ABI by hand
// (no libc, no generated bindings): calc.wit is its world. It
// exports functions over scalars, strings, lists, records, variants and
// results, a loop over wasi:clocks/wall-clock.now for the cost
// benchmark, a loop without calls for the termination checks' and a
// recursion for the stack budget's. Built with -DCALC_CORE (no exported resource, whose
// built-ins only a component has) and without `jco embed` and `jco new`,
// it is a core module guest for the comparison.
#include <stdint.h>

typedef __SIZE_TYPE__ size_t;

static unsigned char heap[1 << 20];
static uint32_t top = 8;

static void copy(void *dst, const void *src, uint32_t n) {
	unsigned char *d = dst;
	const unsigned char *s = src;
	for (uint32_t i = 0; i < n; i++)
		d[i] = s[i];
}

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t oldsz, size_t align, size_t newsz) {
	uint32_t p = (top + align - 1) & ~(uint32_t)(align - 1);
	if (p + newsz > sizeof heap)
		__builtin_trap();
	top = p + newsz;
	if (old)
		copy(heap + p, old, oldsz < newsz ? oldsz : newsz);
	return heap + p;
}

typedef struct {
	uint64_t seconds;
	uint32_t nanoseconds;
} datetime;

__attribute__((import_module("wasi:clocks/wall-clock@0.2.0"), import_name("now"))) void wall_clock_now(datetime *ret);

__attribute__((export_name("add"))) int32_t add(int32_t a, int32_t b) { return a + b; }

static datetime now;

__attribute__((export_name("clock-loop"))) uint64_t clock_loop(uint32_t n) {
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		wall_clock_now(&now);
		sum += now.seconds > 0;
	}
	return sum;
}

static uint32_t ret[4] __attribute__((aligned(8)));

// greet returns "hello, NAME"; its post-return overwrites the returned
// bytes, so a host that lifted after post-return would see X's.
__attribute__((export_name("greet"))) uint32_t *greet(const char *name, uint32_t len) {
	static const char prefix[] = "hello, ";
	char *out = cabi_realloc(0, 0, 1, 7 + len);
	copy(out, prefix, 7);
	copy(out + 7, name, len);
	ret[0] = (uint32_t)out;
	ret[1] = 7 + len;
	return ret;
}

__attribute__((export_name("cabi_post_greet"))) void post_greet(uint32_t *r) {
	char *s = (char *)r[0];
	for (uint32_t i = 0; i < r[1]; i++)
		s[i] = 'X';
}

__attribute__((export_name("sum"))) uint64_t sum(const uint32_t *xs, uint32_t n) {
	uint64_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += xs[i];
	return s;
}

__attribute__((export_name("swap"))) uint32_t *swap(int32_t x, int32_t y) {
	ret[0] = (uint32_t)y;
	ret[1] = (uint32_t)x;
	return ret;
}

// area of shape (circle(r): 3*r*r, rect(p): x*y, empty: err "empty").
__attribute__((export_name("area"))) uint64_t *area(uint32_t disc, int32_t a, int32_t b) {
	static uint64_t res[2];
	static const char msg[] = "empty";
	switch (disc) {
	case 0:
		res[0] = 0;
		res[1] = 3ull * (uint32_t)a * (uint32_t)a;
		break;
	case 1:
		res[0] = 0;
		res[1] = (uint64_t)((int64_t)a * b);
		break;
	default:
		res[0] = 1;
		((uint32_t *)&res[1])[0] = (uint32_t)msg;
		((uint32_t *)&res[1])[1] = 5;
	}
	return res;
}

// words splits s at spaces.
__attribute__((export_name("words"))) uint32_t *words(const char *s, uint32_t len) {
	uint32_t n = 0;
	for (uint32_t i = 0; i < len; i++)
		if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
			n++;
	uint32_t *list = cabi_realloc(0, 0, 4, 8 * n);
	uint32_t k = 0;
	for (uint32_t i = 0; i < len;) {
		while (i < len && s[i] == ' ')
			i++;
		uint32_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		if (i > start) {
			char *w = cabi_realloc(0, 0, 1, i - start);
			copy(w, s + start, i - start);
			list[2 * k] = (uint32_t)w;
			list[2 * k + 1] = i - start;
			k++;
		}
	}
	ret[0] = (uint32_t)list;
	ret[1] = n;
	return ret;
}

// crash traps in the guest.
__attribute__((export_name("crash"))) void crash(void) { __builtin_trap(); }

// hash-loop runs n rounds of FNV-1a over the counter, a loop without
// calls: what the termination checks at its header cost.
__attribute__((export_name("hash-loop"))) uint32_t hash_loop(uint32_t n) {
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ i) * 16777619u;
	return h;
}

static volatile uint32_t deepest;

// recurse calls itself n deep and returns n: each frame stores its depth
// once its call returns, which keeps the compiler from making the
// recursion a loop. Under a small stack budget it traps deep inside.
__attribute__((export_name("recurse"))) uint32_t recurse(uint32_t n) {
	if (n == 0)
		return 0;
	uint32_t r = recurse(n - 1);
	deepest = n;
	return r + 1;
}

// aliased returns a list of n strings that all name the same 256 KiB of
// memory: a hostile result that lifts to n times that much.
__attribute__((export_name("aliased"))) uint32_t *aliased(uint32_t n) {
	uint32_t *list = cabi_realloc(0, 0, 4, 8 * n);
	for (uint32_t i = 0; i < n; i++) {
		list[2 * i] = (uint32_t)heap;
		list[2 * i + 1] = 256 << 10;
	}
	ret[0] = (uint32_t)list;
	ret[1] = n;
	return ret;
}

// bools returns a list of n bools, the first n bytes of the heap: one
// byte each in memory, a 16-byte interface each as Func.Call lifts it.
__attribute__((export_name("bools"))) uint32_t *bools(uint32_t n) {
	ret[0] = (uint32_t)heap;
	ret[1] = n;
	return ret;
}

// pairs returns a list of n tuple<u8, u8>, the first 2n bytes of the
// heap: two bytes each in memory, a slice of two interfaces each as
// Func.Call lifts it.
__attribute__((export_name("pairs"))) uint32_t *pairs(uint32_t n) {
	ret[0] = (uint32_t)heap;
	ret[1] = n;
	return ret;
}

// bad-pointer hands the host a result pointer past the end of memory.
__attribute__((export_name("bad-pointer"))) void bad_pointer(void) { wall_clock_now((datetime *)0xfffffff0); }

#ifndef CALC_CORE // the core module build has no exported resources

// counters: a resource the component defines. Its representation is a
// pointer to the count; the destructor counts destroyed counters.
#define COUNTERS "example:calc/counters"
__attribute__((import_module("[export]" COUNTERS), import_name("[resource-new]counter"))) uint32_t counter_new(uint32_t rep);
__attribute__((import_module("[export]" COUNTERS), import_name("[resource-rep]counter"))) uint32_t counter_rep(uint32_t handle);
__attribute__((import_module("[export]" COUNTERS), import_name("[resource-drop]counter"))) void counter_drop(uint32_t handle);

static uint32_t destroyed_count;

__attribute__((export_name(COUNTERS "#[constructor]counter"))) uint32_t counter_constructor(uint32_t start) {
	uint32_t *c = cabi_realloc(0, 0, 4, 4);
	*c = start;
	return counter_new((uint32_t)c);
}

__attribute__((export_name(COUNTERS "#[method]counter.add"))) uint32_t counter_add(uint32_t *self, uint32_t n) {
	return *self += n;
}

__attribute__((export_name(COUNTERS "#total"))) uint32_t counters_total(uint32_t *c) { return *c; }

// consume takes ownership: it reads the count and drops the handle, which
// runs the destructor.
__attribute__((export_name(COUNTERS "#consume"))) uint32_t counters_consume(uint32_t handle) {
	uint32_t v = *(uint32_t *)counter_rep(handle);
	counter_drop(handle);
	return v;
}

__attribute__((export_name(COUNTERS "#destroyed"))) uint32_t counters_destroyed(void) { return destroyed_count; }

__attribute__((export_name(COUNTERS "#[dtor]counter"))) void counter_dtor(uint32_t *c) {
	destroyed_count++;
	*c = 0xdead;
}

#endif
