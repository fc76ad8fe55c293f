package backends

// Algorithms are protocol versions, cipher suites and key-exchange groups,
// by IANA code point, each in preference order.
type Algorithms struct {
	Versions     []uint16
	CipherSuites []uint16
	Groups       []uint16
}

// A Describer is a Backend that says which algorithms it implements and
// which it uses by default. The
// wasi:tls host uses Supported as the ceiling of what a guest may select
// wherever the host itself configured no list: a guest's configure-* call
// then keeps the code points of its list that are in Supported. A backend
// that is not a Describer is the only judge of what it implements; the
// host passes the guest's lists on to it unchanged (within the host's own
// lists, when it set some).
//
// A backend that wraps another should forward Supported, or report a
// subset of it.
type Describer interface {
	Backend

	// Supported lists everything the backend can negotiate, in its
	// default preference order. The slices must not be modified.
	Supported() Algorithms

	// Defaults lists what the backend offers and accepts when an Options
	// list is empty, in preference order: a subset of Supported. The
	// slices must not be modified.
	Defaults() Algorithms
}
