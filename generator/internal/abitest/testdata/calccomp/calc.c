// calc is a reactor component exporting test:kitchen/calc@0.1.0 (calc.wit)
// written against the Canonical ABI by hand (no libc, no generated
// bindings), for the generated host callers of that interface: each
// function transforms its input as the Go guest ../calcguest does, so the
// host test predicts the same answers. Results and the host's arguments
// live in a bump heap that each post-return empties; shout's post-return
// also overwrites the string it returned, so a host that lifted after
// post-return would see X's. Built with -DHOSTILE, shout returns a string
// pointer outside memory.
#include <stdint.h>

typedef __SIZE_TYPE__ size_t;

#define EXPORT(name) __attribute__((export_name("test:kitchen/calc@0.1.0#" name)))
#define POST(name) __attribute__((export_name("cabi_post_test:kitchen/calc@0.1.0#" name)))

static unsigned char heap[1 << 20] __attribute__((aligned(8)));
static uint32_t top = 8;

// Without libc: what clang may turn loops into.
void *memset(void *dst, int c, size_t n) {
	volatile unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
	volatile unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

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

static void *alloc(uint32_t n, uint32_t align) { return cabi_realloc(0, 0, align, n); }

// ret is the return area of every function returning through memory.
static uint64_t ret[5];
#define RET8(off) (*(uint8_t *)((unsigned char *)ret + (off)))
#define RET16(off) (*(int16_t *)((unsigned char *)ret + (off)))
#define RET32(off) (*(uint32_t *)((unsigned char *)ret + (off)))
#define RET64(off) (*(uint64_t *)((unsigned char *)ret + (off)))

static void release(void) { top = 8; }

// upper copies the UTF-8 string s upper-cased in ASCII and in Latin-1
// (U+00E0..U+00FE but U+00F7, two bytes C3 A0..BE), then suffix.
static char *upper(const unsigned char *s, uint32_t n, const char *suffix, uint32_t sn) {
	unsigned char *out = alloc(n + sn, 1);
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c >= 'a' && c <= 'z')
			c -= 32;
		else if (i > 0 && s[i - 1] == 0xC3 && c >= 0xA0 && c <= 0xBE && c != 0xB7)
			c -= 0x20;
		out[i] = c;
	}
	copy(out + n, suffix, sn);
	return (char *)out;
}

EXPORT("add") uint32_t add(uint32_t a, uint32_t b) { return a + b; }

EXPORT("extremes") uint64_t *extremes(int32_t a, uint64_t b, float c, uint32_t d, int32_t e, int32_t f, double g) {
	RET8(0) = (uint8_t)a;
	RET64(8) = b;
	*(float *)((unsigned char *)ret + 16) = c;
	RET32(20) = d;
	RET8(24) = e != 0;
	RET16(26) = (int16_t)f;
	*(double *)((unsigned char *)ret + 32) = g;
	return ret;
}

static char *shouted;
static uint32_t shoutedLen;

EXPORT("shout") uint64_t *shout(const unsigned char *s, uint32_t n) {
	shouted = upper(s, n, "!", 1);
	shoutedLen = n + 1;
#ifdef HOSTILE
	RET32(0) = 0xFFFFFFF0;
	RET32(4) = 16;
#else
	RET32(0) = (uint32_t)shouted;
	RET32(4) = shoutedLen;
#endif
	return ret;
}

POST("shout") void shout_post(uint64_t *r) {
	for (uint32_t i = 0; i < shoutedLen; i++)
		shouted[i] = 'X';
	release();
}

EXPORT("reverse") uint64_t *reverse(const unsigned char *b, uint32_t n) {
	unsigned char *out = alloc(n, 1);
	for (uint32_t i = 0; i < n; i++)
		out[i] = b[n - 1 - i];
	RET32(0) = (uint32_t)out;
	RET32(4) = n;
	return ret;
}

EXPORT("scale") uint64_t *scale(int32_t x, int32_t y, double k) {
	RET32(0) = (uint32_t)(int32_t)((double)x * k);
	RET32(4) = (uint32_t)(int32_t)((double)y * k);
	return ret;
}

// classify: value's flat form is the case, an i64 (s64; f32 bits; a
// string's pointer; a point's x) and an i32 (a string's length; a point's
// y); in memory the case is a byte at 0 and the payload at 8.
EXPORT("classify") uint64_t *classify(uint32_t tag, uint64_t p0, uint32_t p1) {
	RET8(0) = (uint8_t)tag;
	switch (tag) {
	case 1:
		RET64(8) = p0 * 2;
		break;
	case 2:
		RET32(8) = (uint32_t)p0 ^ 0x80000000u;
		break;
	case 3: {
		const unsigned char *s = (const unsigned char *)(uint32_t)p0;
		unsigned char *out = alloc(2 * p1, 1);
		copy(out, s, p1);
		copy(out + p1, s, p1);
		RET32(8) = (uint32_t)out;
		RET32(12) = 2 * p1;
		break;
	}
	case 4:
		RET32(8) = p1;
		RET32(12) = (uint32_t)p0;
		break;
	}
	return ret;
}

EXPORT("lengths") uint64_t *lengths(uint32_t some, const char *s, uint32_t n) {
	RET8(0) = some != 0;
	RET32(4) = some ? n : 0;
	return ret;
}

// check: result<u32, error-code> is a case byte at 0, the payload at 4.
EXPORT("check") uint64_t *check(uint32_t isErr, uint32_t a, uint32_t b) {
	if (isErr) {
		RET8(0) = 1;
		RET8(4) = 1; // denied
	} else if (a == 0) {
		RET8(0) = 1;
		RET8(4) = 0; // not-found
	} else {
		RET8(0) = 0;
		RET32(4) = a + 1;
	}
	return ret;
}

EXPORT("toggle") uint32_t toggle(uint32_t o) { return o ^ (1 | 4); }

EXPORT("flip") uint32_t flip(uint32_t m) { return m == 0 ? 1 : 0; }

// A pair in memory: name (pointer, length) at 0, n at 8, tags (pointer,
// length) at 12; 20 bytes aligned to 4. A string in a list: 8 bytes.
typedef struct {
	uint32_t name, nameLen, n, tags, tagsLen;
} pair;

typedef struct {
	uint32_t p, n;
} str;

EXPORT("pairs") uint64_t *pairs(const pair *v, uint32_t n) {
	pair *out = alloc(n * sizeof(pair), 4);
	for (uint32_t i = 0; i < n; i++) {
		out[i].name = (uint32_t)upper((const unsigned char *)v[i].name, v[i].nameLen, "", 0);
		out[i].nameLen = v[i].nameLen;
		out[i].n = v[i].n + 1;
		const str *tags = (const str *)v[i].tags;
		uint32_t m = v[i].tagsLen;
		str *t = alloc(m * sizeof(str), 4);
		for (uint32_t j = 0; j < m; j++) {
			const str *from = &tags[m - 1 - j];
			char *s = alloc(from->n, 1);
			copy(s, (const void *)from->p, from->n);
			t[j].p = (uint32_t)s;
			t[j].n = from->n;
		}
		out[i].tags = (uint32_t)t;
		out[i].tagsLen = m;
	}
	RET32(0) = (uint32_t)out;
	RET32(4) = n;
	return ret;
}

// triple: u8 at 0, the string at 4, the f64 at 16.
EXPORT("triple") uint64_t *triple(uint32_t a, const char *s, uint32_t n, double f) {
	char *out = alloc(n + 1, 1);
	copy(out, s, n);
	out[n] = '+';
	RET8(0) = (uint8_t)(a + 1);
	RET32(4) = (uint32_t)out;
	RET32(8) = n + 1;
	*(double *)((unsigned char *)ret + 16) = f * 2;
	return ret;
}

// sum17: seventeen flat parameters are spilled: one pointer to them, in
// memory the host allocated through cabi_realloc.
EXPORT("sum17") uint64_t sum17(const uint32_t *a) {
	uint64_t s = 0;
	for (int i = 0; i < 17; i++)
		s += a[i];
	return s;
}

POST("sum17") void sum17_post(uint64_t r) { release(); }

EXPORT("noop") void noop(void) {}

#define RELEASE(name, fn) \
	POST(name) void fn(uint64_t *r) { release(); }
RELEASE("extremes", extremes_post)
RELEASE("reverse", reverse_post)
RELEASE("scale", scale_post)
RELEASE("classify", classify_post)
RELEASE("lengths", lengths_post)
RELEASE("check", check_post)
RELEASE("pairs", pairs_post)
RELEASE("triple", triple_post)
