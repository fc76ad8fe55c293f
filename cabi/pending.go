package cabi

// The own<R> handles a call lifts (Call.Take) wait in Instance.pending
// until Commit moves them out of the table. Each is checked against those
// lifted before it (a handle moved twice traps) and, at Commit, against
// the handles the call borrowed (one both lent and moved traps). A guest
// decides how many there are: a list<own<R>> may hold as many handles as
// its table, 262,144 by default, and comparing each with every other
// would cost the host some 3·10^10 comparisons in one call, out of reach
// of its context. Up to scanHandles they are compared, beyond that
// indexed, so that a handle costs the same however long its list.

// scanHandles is how many handles are compared one by one before an
// index is built: a few, so that an ordinary call allocates nothing.
const scanHandles = 16

// addPending records h as lifted as own<R> by the call in progress, and
// reports false when it already was.
func (inst *Instance) addPending(h uint32) bool {
	if len(inst.pending) < scanHandles {
		for _, p := range inst.pending {
			if p == h {
				return false
			}
		}
	} else {
		if inst.pendingSet == nil {
			inst.pendingSet = make(map[uint32]struct{}, 2*len(inst.pending))
			for _, p := range inst.pending {
				inst.pendingSet[p] = struct{}{}
			}
		}
		if _, ok := inst.pendingSet[h]; ok {
			return false
		}
		inst.pendingSet[h] = struct{}{}
	}
	inst.pending = append(inst.pending, h)
	return true
}

// resetPending forgets the own<R> handles of the call that ends. The
// index goes too: a long list is the exception, its index not worth
// keeping for the next call.
func (inst *Instance) resetPending() {
	inst.pending = inst.pending[:0]
	inst.pendingSet = nil
}

// lentAndMoved returns the first handle the call in progress both
// lifted as own<R> and borrowed, if any.
func (inst *Instance) lentAndMoved() (uint32, bool) {
	if len(inst.pending) == 0 || len(inst.borrowed) == 0 {
		return 0, false
	}
	if len(inst.pending) <= scanHandles || len(inst.borrowed) <= scanHandles {
		for _, h := range inst.pending {
			for _, b := range inst.borrowed {
				if b == h {
					return h, true
				}
			}
		}
		return 0, false
	}
	borrowed := make(map[uint32]struct{}, len(inst.borrowed))
	for _, b := range inst.borrowed {
		borrowed[b] = struct{}{}
	}
	for _, h := range inst.pending {
		if _, ok := borrowed[h]; ok {
			return h, true
		}
	}
	return 0, false
}
