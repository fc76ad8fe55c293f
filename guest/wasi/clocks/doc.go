// Package clocks holds raw Canonical ABI bindings for wasi:clocks
// monotonic-clock and wall-clock (WASI 0.2.8), hand-written in the regular
// form described in package guest/wasi/io. A later generator mode may replace
// them.
package clocks
