//go:build wasip1

package cabi

// Lent is a borrow of a host resource the host lent to an export, nested
// in an argument (list<borrow<R>>, a record or variant holding one): the
// handle and the function dropping a handle of its resource. The generated
// export glue records one per nested borrow as it lifts the arguments,
// before the implementation can change the lists it is given, into a slice
// backed by an array on its stack, and ends them all with [EndBorrows]
// once the implementation returns.
type Lent struct {
	Handle uint32
	End    func(uint32)
}

// EndBorrows drops every borrow in lent, once each: the Canonical ABI
// requires an export to end the borrows it was lent before it returns.
func EndBorrows(lent []Lent) {
	for _, l := range lent {
		l.End(l.Handle)
	}
}
