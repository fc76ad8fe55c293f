// tally is a reactor component exporting test:kitchen/tally@0.1.0
// (tally.wit), which implements the resource counter: written against
// the Canonical ABI by hand (no libc), for the generated host callers of a
// component's own resources. A counter's rep is its slot in counters plus
// one; the component makes, reads and drops handles through the canon
// resource.new, resource.rep and resource.drop it imports from
// [export]test:kitchen/tally@0.1.0. Hostile on purpose: bad-handle returns
// a handle that is not in the table, and the destructor of a counter at
// 666 traps.
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name("test:kitchen/tally@0.1.0#" name)))
#define RESOURCE(name) __attribute__((import_module("[export]test:kitchen/tally@0.1.0"), import_name(name)))

RESOURCE("[resource-new]counter") uint32_t resource_new(uint32_t rep);
RESOURCE("[resource-rep]counter") uint32_t resource_rep(uint32_t handle);
RESOURCE("[resource-drop]counter") void resource_drop(uint32_t handle);

#define MAX 64

static struct {
	uint32_t count, live;
} counters[MAX];

static uint32_t destroyed;

static uint32_t make(uint32_t count) {
	for (uint32_t i = 0; i < MAX; i++) {
		if (!counters[i].live) {
			counters[i].live = 1;
			counters[i].count = count;
			return resource_new(i + 1);
		}
	}
	__builtin_trap();
}

// at returns the live counter of rep, trapping on any other.
static uint32_t *at(uint32_t rep) {
	if (rep == 0 || rep > MAX || !counters[rep - 1].live)
		__builtin_trap();
	return &counters[rep - 1].count;
}

EXPORT("[constructor]counter") uint32_t counter_new(uint32_t start) { return make(start); }

EXPORT("[method]counter.add") uint32_t counter_add(uint32_t self, uint32_t k) { return *at(self) += k; }

EXPORT("[method]counter.twin") uint32_t counter_twin(uint32_t self) { return make(*at(self)); }

EXPORT("[method]counter.same") uint32_t counter_same(uint32_t self, uint32_t other) { return *at(self) == *at(other); }

EXPORT("absorb") uint32_t absorb(uint32_t handle) {
	uint32_t n = *at(resource_rep(handle));
	resource_drop(handle);
	return n;
}

// split returns its list<counter> (pointer, length) in ret, the handles
// in handles: no allocation, so no cabi_realloc or post-return.
static uint32_t ret[2], handles[8];

EXPORT("split") uint32_t *split(uint32_t self, uint32_t n) {
	if (n > 8)
		__builtin_trap();
	for (uint32_t i = 0; i < n; i++)
		handles[i] = make(*at(self));
	ret[0] = (uint32_t)handles;
	ret[1] = n;
	return ret;
}

EXPORT("destroyed") uint32_t get_destroyed(void) { return destroyed; }

EXPORT("bad-handle") uint32_t bad_handle(void) { return 77; }

EXPORT("[dtor]counter") void counter_dtor(uint32_t rep) {
	if (*at(rep) == 666)
		__builtin_trap();
	counters[rep - 1].live = 0;
	destroyed++;
}
