package cabi

import "github.com/wasitls/wasitls/cabi/witval"

// The generic WIT value types live in package witval, which the guest
// bindings share; these aliases keep their cabi names.

// Option is WIT's option<T>. The zero value is none.
type Option[T any] = witval.Option[T]

// Some returns an option holding v.
func Some[T any](v T) Option[T] { return witval.Some(v) }

// None returns the empty option.
func None[T any]() Option[T] { return witval.None[T]() }

// Unit is the absent payload of a result.
type Unit = witval.Unit

// Result is WIT's result<T, E>; absent payloads are Unit.
type Result[T, E any] = witval.Result[T, E]

// OK returns a successful result holding v.
func OK[T, E any](v T) Result[T, E] { return witval.OK[T, E](v) }

// Err returns a failed result holding e.
func Err[T, E any](e E) Result[T, E] { return witval.Err[T, E](e) }

// Tuple1 is WIT's tuple of 1 element.
type Tuple1[A any] = witval.Tuple1[A]

// Tuple2 is WIT's tuple of 2 elements.
type Tuple2[A, B any] = witval.Tuple2[A, B]

// Tuple3 is WIT's tuple of 3 elements.
type Tuple3[A, B, C any] = witval.Tuple3[A, B, C]

// Tuple4 is WIT's tuple of 4 elements.
type Tuple4[A, B, C, D any] = witval.Tuple4[A, B, C, D]

// Tuple5 is WIT's tuple of 5 elements.
type Tuple5[A, B, C, D, E any] = witval.Tuple5[A, B, C, D, E]

// Tuple6 is WIT's tuple of 6 elements.
type Tuple6[A, B, C, D, E, F any] = witval.Tuple6[A, B, C, D, E, F]

// Tuple7 is WIT's tuple of 7 elements.
type Tuple7[A, B, C, D, E, F, G any] = witval.Tuple7[A, B, C, D, E, F, G]

// Tuple8 is WIT's tuple of 8 elements.
type Tuple8[A, B, C, D, E, F, G, H any] = witval.Tuple8[A, B, C, D, E, F, G, H]

// Tuple9 is WIT's tuple of 9 elements.
type Tuple9[A, B, C, D, E, F, G, H, I any] = witval.Tuple9[A, B, C, D, E, F, G, H, I]

// Tuple10 is WIT's tuple of 10 elements.
type Tuple10[A, B, C, D, E, F, G, H, I, J any] = witval.Tuple10[A, B, C, D, E, F, G, H, I, J]

// Tuple11 is WIT's tuple of 11 elements.
type Tuple11[A, B, C, D, E, F, G, H, I, J, K any] = witval.Tuple11[A, B, C, D, E, F, G, H, I, J, K]

// Tuple12 is WIT's tuple of 12 elements.
type Tuple12[A, B, C, D, E, F, G, H, I, J, K, L any] = witval.Tuple12[A, B, C, D, E, F, G, H, I, J, K, L]

// Tuple13 is WIT's tuple of 13 elements.
type Tuple13[A, B, C, D, E, F, G, H, I, J, K, L, M any] = witval.Tuple13[A, B, C, D, E, F, G, H, I, J, K, L, M]

// Tuple14 is WIT's tuple of 14 elements.
type Tuple14[A, B, C, D, E, F, G, H, I, J, K, L, M, N any] = witval.Tuple14[A, B, C, D, E, F, G, H, I, J, K, L, M, N]

// Tuple15 is WIT's tuple of 15 elements.
type Tuple15[A, B, C, D, E, F, G, H, I, J, K, L, M, N, O any] = witval.Tuple15[A, B, C, D, E, F, G, H, I, J, K, L, M, N, O]

// Tuple16 is WIT's tuple of 16 elements.
type Tuple16[A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P any] = witval.Tuple16[A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P]
