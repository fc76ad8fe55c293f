//go:build wasip1

package main

// The imports of test:kitchen/echo and test:shared/things, declared by hand
// with the core signatures the Canonical ABI gives them (wasm32): every
// parameter beyond 16 flat values goes through memory, every result beyond
// one flat value through a return pointer, the last parameter.

//go:wasmimport test:kitchen/echo@0.1.0 echo-bool
func echoBool(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-s8
func echoS8(v int32) int32

//go:wasmimport test:kitchen/echo@0.1.0 echo-u8
func echoU8(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-s16
func echoS16(v int32) int32

//go:wasmimport test:kitchen/echo@0.1.0 echo-u16
func echoU16(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-s32
func echoS32(v int32) int32

//go:wasmimport test:kitchen/echo@0.1.0 echo-u32
func echoU32(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-s64
func echoS64(v int64) int64

//go:wasmimport test:kitchen/echo@0.1.0 echo-u64
func echoU64(v uint64) uint64

//go:wasmimport test:kitchen/echo@0.1.0 echo-f32
func echoF32(v float32) float32

//go:wasmimport test:kitchen/echo@0.1.0 echo-f64
func echoF64(v float64) float64

//go:wasmimport test:kitchen/echo@0.1.0 echo-char
func echoChar(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-string
func echoString(ptr, n, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-bytes
func echoBytes(ptr, n, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-strings
func echoStrings(ptr, n, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-items
func echoItems(ptr, n, ret uint32)

// prims flattens to 15 values: bool s8 u8 s16 u16 s32 u32 (i32), s64 u64
// (i64), f32, f64, char (i32), string (i32 i32).
//
//go:wasmimport test:kitchen/echo@0.1.0 echo-prims
func echoPrims(b, s8, u8, s16, u16, s32, u32 uint32, s64, u64 uint64, f32 float32, f64 float64, c, sp, sn, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-point
func echoPoint(x, y int32, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-color
func echoColor(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-small
func echoSmall(v uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-wide
func echoWide(lo, hi uint32, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-huge
func echoHuge(w0, w1, w2 uint32, ret uint32)

// shape flattens to i32 (case), i64, i64: f32, f64, i32 and u64 payloads
// join to i64.
//
//go:wasmimport test:kitchen/echo@0.1.0 echo-shape
func echoShape(tag uint32, a, b uint64, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-shapes
func echoShapes(ptr, n, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-option
func echoOption(tag, ptr, n, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-result
func echoResult(tag, a, b, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-result-ok
func echoResultOK(tag, v, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-result-err
func echoResultErr(tag, v, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 echo-result-empty
func echoResultEmpty(tag uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 echo-tuple
func echoTuple(a, sp, sn uint32, f float64, ret uint32)

// option<result<list<option<u16>>, shape>> flattens to i32 (option),
// i32 (result), i32 (list ptr | shape case), i64 (list len | shape a),
// i64 (shape b).
//
//go:wasmimport test:kitchen/echo@0.1.0 echo-nested
func echoNested(opt, res, a uint32, b, c uint64, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 sum17
func sum17(params uint32) uint64

//go:wasmimport test:kitchen/echo@0.1.0 make-counter
func makeCounter(start, fail, ret uint32)

//go:wasmimport test:kitchen/echo@0.1.0 take-counter
func takeCounter(h uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 take-all
func takeAll(p, n uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 peek-counter
func peekCounter(h uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 merge
func merge(a, b uint32) uint32

//go:wasmimport test:kitchen/echo@0.1.0 counters
func counters(n, ret uint32)

//go:wasmimport test:shared/things@0.1.0 [constructor]counter
func newCounter(start uint32) uint32

//go:wasmimport test:shared/things@0.1.0 [method]counter.get
func counterGet(self uint32) uint32

// The same function under another version alias: one table serves both.
//
//go:wasmimport test:shared/things@0.1.1 [method]counter.get
func counterGetV011(self uint32) uint32

//go:wasmimport test:shared/things@0.1.0 [method]counter.view
func counterView(self uint32) uint32

//go:wasmimport test:shared/things@0.1.0 [static]counter.make
func counterMake(start, fail, ret uint32)

//go:wasmimport test:shared/things@0.1.0 [method]counter-view.peek
func viewPeek(self uint32) uint32

//go:wasmimport test:shared/things@0.1.0 [resource-drop]counter
func dropCounter(h uint32)

//go:wasmimport test:shared/things@0.1.0 [resource-drop]counter-view
func dropView(h uint32)
