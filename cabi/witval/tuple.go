package witval

// Tuple1 is WIT's tuple of 1 element.
type Tuple1[A any] struct {
	F0 A
}

// Tuple2 is WIT's tuple<A, B>; TupleN for N from 1 to 16 are the same
// shape: fields F0 to F(N-1) in order.
type Tuple2[A, B any] struct {
	F0 A
	F1 B
}

// Tuple3 is WIT's tuple of 3 elements.
type Tuple3[A, B, C any] struct {
	F0 A
	F1 B
	F2 C
}

// Tuple4 is WIT's tuple of 4 elements.
type Tuple4[A, B, C, D any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
}

// Tuple5 is WIT's tuple of 5 elements.
type Tuple5[A, B, C, D, E any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
	F4 E
}

// Tuple6 is WIT's tuple of 6 elements.
type Tuple6[A, B, C, D, E, F any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
	F4 E
	F5 F
}

// Tuple7 is WIT's tuple of 7 elements.
type Tuple7[A, B, C, D, E, F, G any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
	F4 E
	F5 F
	F6 G
}

// Tuple8 is WIT's tuple of 8 elements.
type Tuple8[A, B, C, D, E, F, G, H any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
	F4 E
	F5 F
	F6 G
	F7 H
}

// Tuple9 is WIT's tuple of 9 elements.
type Tuple9[A, B, C, D, E, F, G, H, I any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
	F4 E
	F5 F
	F6 G
	F7 H
	F8 I
}

// Tuple10 is WIT's tuple of 10 elements.
type Tuple10[A, B, C, D, E, F, G, H, I, J any] struct {
	F0 A
	F1 B
	F2 C
	F3 D
	F4 E
	F5 F
	F6 G
	F7 H
	F8 I
	F9 J
}

// Tuple11 is WIT's tuple of 11 elements.
type Tuple11[A, B, C, D, E, F, G, H, I, J, K any] struct {
	F0  A
	F1  B
	F2  C
	F3  D
	F4  E
	F5  F
	F6  G
	F7  H
	F8  I
	F9  J
	F10 K
}

// Tuple12 is WIT's tuple of 12 elements.
type Tuple12[A, B, C, D, E, F, G, H, I, J, K, L any] struct {
	F0  A
	F1  B
	F2  C
	F3  D
	F4  E
	F5  F
	F6  G
	F7  H
	F8  I
	F9  J
	F10 K
	F11 L
}

// Tuple13 is WIT's tuple of 13 elements.
type Tuple13[A, B, C, D, E, F, G, H, I, J, K, L, M any] struct {
	F0  A
	F1  B
	F2  C
	F3  D
	F4  E
	F5  F
	F6  G
	F7  H
	F8  I
	F9  J
	F10 K
	F11 L
	F12 M
}

// Tuple14 is WIT's tuple of 14 elements.
type Tuple14[A, B, C, D, E, F, G, H, I, J, K, L, M, N any] struct {
	F0  A
	F1  B
	F2  C
	F3  D
	F4  E
	F5  F
	F6  G
	F7  H
	F8  I
	F9  J
	F10 K
	F11 L
	F12 M
	F13 N
}

// Tuple15 is WIT's tuple of 15 elements.
type Tuple15[A, B, C, D, E, F, G, H, I, J, K, L, M, N, O any] struct {
	F0  A
	F1  B
	F2  C
	F3  D
	F4  E
	F5  F
	F6  G
	F7  H
	F8  I
	F9  J
	F10 K
	F11 L
	F12 M
	F13 N
	F14 O
}

// Tuple16 is WIT's tuple of 16 elements.
type Tuple16[A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P any] struct {
	F0  A
	F1  B
	F2  C
	F3  D
	F4  E
	F5  F
	F6  G
	F7  H
	F8  I
	F9  J
	F10 K
	F11 L
	F12 M
	F13 N
	F14 O
	F15 P
}
