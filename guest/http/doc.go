// Package wasihttp lets net/http clients in a Go guest (GOOS=wasip1) fetch
// URLs through the host's wasi:tls and wasi:sockets, over HTTP/2 or
// HTTP/1.1 as the server's ALPN answer decides.
//
//	client := &http.Client{Transport: &wasihttp.Transport{}}
//	resp, err := client.Get("https://example.com/")
//	// resp.Proto is "HTTP/2.0" or "HTTP/1.1"; resp.TLS describes the
//	// connection (version, suite, group, ALPN, the server's chain).
//
// # Model
//
// net/http's own Transport speaks HTTP/2 only over a *crypto/tls.Conn and
// fills Response.TLS only from one, so it would speak HTTP/1.1 on a
// connection where the server agreed to h2, and fail. A [Transport]
// therefore holds two:
//
//   - an HTTP/2 transport (golang.org/x/net/http2, which runs over any
//     net.Conn), tried first for https when the configuration offers h2;
//   - an HTTP/1.1 transport (net/http, with HTTP/2 turned off), for http
//     URLs, for servers that answered ALPN with http/1.1 or nothing, and
//     for configurations that do not offer h2.
//
// A connection dialed for HTTP/2 that the server took as HTTP/1.1 is not
// wasted: it is handed to the HTTP/1.1 transport's next dial to that
// address, and the address is remembered as HTTP/1.1-only. Idle
// connections of both sides are closed after IdleConnTimeout (90 seconds
// by default, as with http.DefaultTransport). Each Response's
// TLS field comes from the wasi:tls connection that carried it
// ([wasitls.ConnectionState.Standard]), found through net/http/httptrace.
//
// All the TLS decisions the host makes stay the host's: trust anchors,
// validation, the allowed versions, suites and groups. Config narrows them
// as it does for [wasitls.Dial].
package wasihttp
