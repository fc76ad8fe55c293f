package cabi

// AfterCall has release run when the host call of the instance in
// progress ends: at its End, after the glue stored its results in guest
// memory, or when it faults. A host function may return a view of a
// buffer lent for the call only (so that the glue copies the bytes once,
// from a buffer the host reuses, and allocates nothing for them), and
// release takes the buffer back. Without a host call in progress (the
// function called directly, not through glue), release runs at the end
// of the instance's next one. The releases of a call run in the order
// they were registered; the slice holding them is reused, so a release
// registered as a func value made once allocates nothing.
func (inst *Instance) AfterCall(release func()) {
	inst.afterCall = append(inst.afterCall, release)
}

// runAfterCall runs and forgets the releases AfterCall registered.
func (inst *Instance) runAfterCall() {
	fs := inst.afterCall
	inst.afterCall = fs[:0]
	for i, f := range fs {
		fs[i] = nil
		f()
	}
}
