// Package tlshost is the wasi:tls host: it serves the wasi:tls proposal
// (wasi:tls/tls@0.2.0-pr104), the upstream draft (wasi:tls/types@0.2.0-draft)
// and the project's extensions (wasitls:tls/extensions) to guests, and
// delegates the TLS work to a backend (see package backends).
//
// # Use
//
// [New] returns the runtime.Extension to list in runtime.Config.Extensions
// (see the package examples: Example_wazeroProgram adds wasi:tls to a
// wazero program that has a runtime and host modules of its own, a client
// guest fetching from a loopback HTTPS server, Example_server runs a guest
// TLS server with an identity the host holds; and README.md's "Embed it"
// for a whole program); the guest's peers must be allowed by
// runtime.Config.Network too, and the addresses a guest server listens on
// (sockets.Policy.AllowListen). [Config] is the host's TLS policy, which
// no guest can widen: the backend (BackendName, or Backend for one of
// your own), the trust anchors (RootCAs, ClientCAs; [LoadTrustAnchors]
// from a PEM file), the versions, cipher suites and groups guests may
// select from, identities the host holds for guests ([LoadIdentity] from
// files, or the backend's ParseIdentity from bytes; every guest may use
// each, unless instantiated under [WithIdentities], which names those it
// may: one tenant's guests never serve as another's), session
// resumption, the key log and the limits. The zero Config serves stdtls
// with the system roots. The rest of this comment is how the host works.
//
// # Model
//
// A guest drives a handshake in direct style; a backend runs it in callback
// style. Each client-connection or server-connection is a session with one
// handshake goroutine, started when the guest first resumes the handshake
// (verify-server-identity, receive-client-identity-request,
// receive-client-hello, request-client-identity or finish) and never
// before: while a handshake is suspended, no data flows.
//
// The guest's calls move the handshake's target forward through the points
// of interest, in handshake order:
//
//	client: verify-server-identity → receive-client-identity-request → finish
//	server: receive-client-hello → request-client-identity → finish
//
// A handshake the guest lets run to completion at once (finish without
// optional steps) over a backend that blocks only in its transport
// (backends.NonblockingConn, over a socket) does not start at finish: it
// waits until the guest waits for it or looks at it, and when the guest
// waits for it alone, it runs on the guest's call, with no goroutine and
// no hand-off (driver.startLocked).
//
// The handshake goroutine runs up to the target and blocks in the backend's
// hook there (VerifyServer, ClientIdentity or NoClientIdentityRequest,
// ClientHello, VerifyClient) after resolving the guest's future. The guest's
// next call releases it: a later step or finish with the guest's decisions,
// abort with backends.ErrAborted (the backend then sends an alert, except
// stdtls in ClientIdentity: crypto/tls sends none for a failed client
// certificate callback). Steps the
// guest did not ask for do not suspend. Each optional step may be taken at
// most once and only in this order; configure-* calls are accepted only while
// they can still take effect (client: before the handshake started; server:
// until the ClientHello hook returned). Violations are error results naming
// the rule. Both sides share these rules, and the host's ceiling over the
// guest's versions, cipher suites and groups, in rules.go and ceiling.go.
//
// # Files
//
// The state machines (driver.go, client.go, server.go, future.go) know
// nothing of the guest: they take a transport and a backend and are tested
// with a scripted backend and with every registered backend against real
// peers; pausable.go is the handshake that runs on the guest's waits and
// pauses at their deadlines. host.go, futures.go, identity.go, draft.go and
// extensions.go are the resources of the generated bindings over them;
// io.go is the seam with the runtime's wasi:io streams and pollables.
//
// # Cleartext streams
//
// After the handshake the guest reads and writes cleartext through
// wasi:io streams. When the transport is a socket's (a
// wasiio.NonblockingTransport) and the backend keeps its state across a
// transport read timeout (a backends.NonblockingConn), the streams are
// inline: each read or write call of the guest runs the backend's Read or
// Write itself, the transport failing with would-block instead of blocking
// and queueing what the socket does not take. Other backends get a reader
// and a writer goroutine per connection. A connection that starts
// post-handshake authentication stops reading inline, since the backend
// then reads the transport on its own.
//
// # Limits
//
// A guest holds at most Config.PendingHandshakes handshakes pending at once
// (pending.go says exactly when one is pending); past it connect and accept
// fail with a reason naming the limit. The count is per guest: the host is
// a runtime.GuestExtension and keeps it in each runtime.Guest. So are the
// bytes of the private identities it parsed (Config.IdentityBytes,
// identitybytes.go), those its peers sent in their handshakes,
// certificate chains above all (Config.PeerCertBytes, peercertbytes.go),
// the application data of its peers that backends read ahead of its reads
// (Config.ReadAheadBytes, readahead.go: past it they stop reading ahead),
// and those of the settings it chose for its connections, ALPN IDs and
// identity lists above all (Config.SettingsBytes, settingsbytes.go), and
// its TLS connections, whatever streams they were made over
// (Config.Connections, connections.go: past it the constructor traps).
// The guest's handles, sockets and memory are bounded by the runtime's
// Limits.
//
// # Ownership
//
// Futures hold Go values only. The handshake goroutine never touches guest
// memory or the resource table: lowering a result into the guest happens in
// the guest's own get call. Dropping a handshake without finish or abort
// aborts it; dropping a connection gives up on its handshake and closes the
// backend connection and the transport. A handshake that fails does that
// at once: the connection keeps only what the guest can still ask of it
// and the error's message (ending.dropFailed, detachErr). Private keys stay in the host: a
// private-identity is a handle to a backends.Identity and nothing returns
// its key.
//
// # Giving up
//
// Nothing on a guest's call path waits for a backend without a bound.
// When the host gives up on a running handshake (abort, drop, or the
// handshake timeout, Config.HandshakeTimeout) it cancels the handshake's
// context and interrupts the transport the backend was given (guard.go):
// every Read and Write in progress or to come fails, although the guest's
// tcp-socket still holds the socket and whatever the backend does with the
// context. A backend that still has not returned within half a second is
// left behind, and the handshake ends for the guest without it; a backend
// Close that does not return is likewise left after half a second. A
// handshake that runs on the guest's call is ended the same way, by its
// interrupted transport (its backend promises to block nowhere else), and
// also when the guest's instance is closed while it runs. Over such a
// backend and a socket's transport, whose writes never wait for the peer,
// close_notify and Close run on the guest's call too, without a goroutine:
// they cannot wait for a peer that does not read, and past a quarter to
// half a second the transport is interrupted anyway (boundedInline, with
// one timer for every such close of the process).
//
// # A backend that panics
//
// A backend is code the embedder may have written, and a peer or a guest
// that finds a bug in it must cost at most that connection. Every call
// the host makes into a backend, on a goroutine of its own (the
// handshake, a stream's reader or writer, a bounded close,
// post-handshake authentication) or on the guest's call (a handshake run
// there, inline reads and writes, close_notify and close, the exporter,
// the connection's state, Client, Server, and ParseIdentity of a guest's
// bytes), recovers a panic and makes it that call's failure
// (shield.go): a [BackendPanicError], one line naming the backend, the
// method and the panic's value, which the guest reads as the handshake's
// error, a stream error or the last error. The stack goes to
// Config.Logger, never to the guest. The connection is broken from then
// on: its transport is closed at once (which ends the backend's I/O on
// other goroutines), the backend is not entered again for it, its last
// error (client-last-error, server-last-error) is the panic's message,
// whichever goroutine it happened on, it reports nothing negotiated
// (protocol-version, cipher-suite, alpn-id, both identities, the group,
// resumption and the stapled OCSP response are none, even after a
// completed handshake: the backend's state is unknown; server-name
// stays the name the guest connected to or the client sent), and it
// releases its pending handshake, its peer's bytes and its socket as
// any failed connection does. A panic of Config.Logger itself, on any
// record, costs that record only. Other connections and guests go on. Panics on
// goroutines a backend starts itself are beyond the host's reach. What
// the backend says of itself (Name, Supported, Defaults) is asked once,
// under the shield, when the host is made (hostbackend.go): a panic
// there is an error of NewHost, of runtime.New through New, or of
// LoadIdentity (whose ParseIdentity is shielded too), and no guest's
// call enters those methods again.
package tlshost
