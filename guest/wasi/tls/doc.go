// Package tls is the Go guest API of the wasi:tls proposal's interface,
// imported as "wasi:tls/tls@0.2.0-pr104": every one of its 43 functions plus
// the resource drops, over the bindings wit2host -guest generates in
// guest/wasi/bindings/wasi/tls/tls. It adds the sentinel errors (ErrFailed
// for a result without an error type, ErrConsumed for a future read twice)
// and splits each future's option<result<result<T>>> into (T, ready, err).
//
// The resources follow the proposal: a [ClientConnection] or
// [ServerConnection] takes ownership of raw input and output streams; its
// handshake resource ([ClientHandshake], [ServerHandshake]) starts suspended,
// is driven to points of interest whose futures resolve when the handshake
// gets there, and is consumed by Finish (cleartext streams) or Abort. Futures
// ([FutureStreams], [FutureClientHello], [FuturePublicIdentity],
// [FutureClientIdentityRequest]) are polled through their Subscribe pollable
// and read once with Get.
//
// Package guest/tls offers the crypto/tls-like API on top.
package tls
