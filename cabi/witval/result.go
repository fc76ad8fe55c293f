package witval

// Unit is the Go type of an absent result<_, E> or result<T> payload.
type Unit = struct{}

// Result is WIT's result<T, E>; absent payloads are Unit. The zero value
// is ok with the zero T.
type Result[T, E any] struct {
	ok    T
	err   E
	isErr bool
}

// OK returns a successful result holding v.
func OK[T, E any](v T) Result[T, E] { return Result[T, E]{ok: v} }

// Err returns a failed result holding e.
func Err[T, E any](e E) Result[T, E] { return Result[T, E]{err: e, isErr: true} }

// IsOK reports whether r succeeded.
func (r Result[T, E]) IsOK() bool { return !r.isErr }

// IsErr reports whether r failed.
func (r Result[T, E]) IsErr() bool { return r.isErr }

// Value returns the success value, the zero T when r failed.
func (r Result[T, E]) Value() T { return r.ok }

// ErrValue returns the error value, the zero E when r succeeded.
func (r Result[T, E]) ErrValue() E { return r.err }

// Get returns the success value, the error value, and whether r failed.
func (r Result[T, E]) Get() (T, E, bool) { return r.ok, r.err, r.isErr }
