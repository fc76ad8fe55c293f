// Package io holds raw Canonical ABI bindings for the wasi:io interfaces
// error, poll and streams (WASI 0.2.8; the host serves every 0.2.x alias).
//
// The bindings are written by hand in a regular, mechanical form: one Go type
// per resource (a named uint32 handle), one method per WIT method, one
// //go:wasmimport declaration per function, results decoded from the return
// area with the layouts declared in layout.go (checked against the WIT by a
// host-side test). A later generator mode may replace them.
//
// Handles are owned by the caller exactly as the WIT says: a handle returned
// as own<T> must be dropped with Drop, children (a pollable of a stream, the
// streams of a socket) before their parent. These bindings do not block
// goroutines cleverly: blocking functions block the whole guest. Use the
// poller in guest/poll for anything that waits.
package io
