// Package clocks is the Go guest API of wasi:clocks monotonic-clock and
// wall-clock (WASI 0.2.8): short names over the bindings wit2host -guest
// generates in guest/wasi/bindings/wasi/clocks, whose types it shares.
package clocks
