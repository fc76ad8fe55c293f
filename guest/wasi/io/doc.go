// Package io is the Go guest API of the wasi:io interfaces error, poll and
// streams (WASI 0.2.8; the host serves every 0.2.x alias), over the bindings
// wit2host -guest generates in guest/wasi/bindings/wasi/io.
//
// Error and Pollable are the generated handle types. The streams are thin
// named handles whose methods return a *StreamError (Closed, or the
// LastOperationFailed error handle) instead of the generated variant, and
// add ReadInto and PollInto, which let the host write results straight into
// the caller's buffers (cabi.Offer) so that the hot paths do not allocate.
//
// Handles are owned by the caller exactly as the WIT says: a handle returned
// as own<T> must be dropped with Drop, children (a pollable of a stream, the
// streams of a socket) before their parent. These bindings do not block
// goroutines cleverly: blocking functions block the whole guest. Use the
// poller in guest/poll for anything that waits.
package io
