package cabi

import "fmt"

// Reps holds the Go values behind the resources a guest implements (the
// resources of an interface it exports), by rep: the u32 the guest gives
// the host's [resource-new] and gets back as a method's self and in its
// destructor. Rep i+1 is slot i; freed reps are reused, most recent first.
// Generated bindings declare one per resource. It is not safe for
// concurrent use (a wasip1 guest has one thread).
type Reps[T any] struct {
	vals []T
	live []bool
	free []uint32
}

// Add stores v and returns its rep.
func (r *Reps[T]) Add(v T) uint32 {
	if n := len(r.free); n > 0 {
		rep := r.free[n-1]
		r.free = r.free[:n-1]
		r.vals[rep-1], r.live[rep-1] = v, true
		return rep
	}
	r.vals, r.live = append(r.vals, v), append(r.live, true)
	return uint32(len(r.vals))
}

// Get returns the value of rep. A rep that is not live panics: the host
// passed a rep it was never given, or one already destroyed.
func (r *Reps[T]) Get(rep uint32) T {
	if rep == 0 || int(rep) > len(r.vals) || !r.live[rep-1] {
		panic(fmt.Sprintf("cabi: no resource with rep %d", rep))
	}
	return r.vals[rep-1]
}

// Remove forgets rep and returns its value, for its destructor.
func (r *Reps[T]) Remove(rep uint32) T {
	v := r.Get(rep)
	var zero T
	r.vals[rep-1], r.live[rep-1] = zero, false
	r.free = append(r.free, rep)
	return v
}
