// Package wasitls gives a Go guest (GOOS=wasip1) TLS through the host's
// wasi:tls, with an API shaped like crypto/tls: [Client] and [Server] wrap a
// connection from package guest/net, [Conn.Handshake], Read, Write, Close,
// CloseWrite (close_notify) and [Conn.ConnectionState].
//
// # Model
//
// The host does the TLS; the guest drives it. A [Conn] hands the raw
// streams of its wasinet connection to a wasi:tls client-connection or
// server-connection (the host unwraps them to the socket underneath) and
// reads and writes the cleartext streams the handshake returns. The
// connection keeps the socket: Close sends close_notify, drops the TLS
// resources (children first) and then closes the socket.
//
// Close may come from any goroutine at any time, as with crypto/tls: it
// wakes a Read or Write in progress (which fails with net.ErrClosed),
// cancels a step that waits on the host (Finish, the resumptions,
// [Conn.RequestClientCertificate]) and declines a certificate request not
// yet answered before it drops their parents; it waits for an Abort,
// whose alert the host bounds. CloseWrite does not wait behind a Write in
// progress: it fails instead. After Close, [Conn.ConnectionState] reports
// HandshakeComplete and nothing else, unlike crypto/tls: read the state
// before Close (keeping it for Close costs every Go guest handshake
// about a tenth of its rate).
//
// The proposal's handshake is direct style: the guest resumes the handshake
// to a point of interest and waits on a future. [Config]'s hooks map onto
// those points, in the proposal's order:
//
//   - client: VerifyPeerCertificate ↔ verify-server-identity (always in
//     addition to the host's own validation); GetClientCertificate ↔
//     receive-client-identity-request and respond;
//   - server: GetConfigForClient ↔ receive-client-hello, then
//     reconfiguration; ClientAuth ↔ request-client-identity, with
//     VerifyPeerCertificate seeing the validated chain;
//   - post-handshake client authentication: [Conn.RequestClientCertificate]
//     ↔ server-connection.request-client-identity (backends that cannot,
//     such as crypto/tls, refuse and the error says so).
//
// Protocol versions, cipher suites and key-exchange groups, the negotiated
// group and close_notify go through the wasitls:tls extensions.
//
// [ClientHandshake] and [ServerHandshake] expose those steps one by one for
// flows the hooks do not cover. Every wait (a future, an abort's alert, a
// Read or Write) parks the goroutine on the guest's poller (package
// guest/poll), so other goroutines keep running.
//
// [ClientDraft] is a small client over the upstream draft interface
// (wasi:tls/types@0.2.0-draft), for guests that must also run on hosts that
// serve only that.
//
// Private keys are parsed by the host ([ParseIdentity]): the guest passes
// key bytes in once and gets an opaque handle; they never come back.
package wasitls
