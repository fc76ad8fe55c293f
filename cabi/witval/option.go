package witval

// Option is WIT's option<T>. The zero value is none.
type Option[T any] struct {
	value T
	some  bool
}

// Some returns an option holding v.
func Some[T any](v T) Option[T] { return Option[T]{value: v, some: true} }

// None returns the empty option.
func None[T any]() Option[T] { return Option[T]{} }

// IsSome reports whether o holds a value.
func (o Option[T]) IsSome() bool { return o.some }

// IsNone reports whether o is empty.
func (o Option[T]) IsNone() bool { return !o.some }

// Value returns the value, the zero T when o is none.
func (o Option[T]) Value() T { return o.value }

// Get returns the value and whether there is one.
func (o Option[T]) Get() (T, bool) { return o.value, o.some }
