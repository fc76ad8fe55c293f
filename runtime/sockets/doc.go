// Package sockets implements the host side of wasi:sockets (network,
// instance-network, tcp, tcp-create-socket, ip-name-lookup, udp and
// udp-create-socket) over the Go net package, under a deny-by-default
// [Policy].
//
// # Model
//
// A [Stack] is what one guest instance sees of the network: the embedder's
// policy plus the addresses the guest learnt through allowed name lookups.
// Every [Network] resource the guest obtains refers to its instance's Stack.
//
// A name lookup ([Stack.Resolve]) runs on a goroutine with the stack's
// resolver until it is answered or fails, dropping its stream closing its
// DNS connections; at most the stack's lookup limit run at once, a
// dropped one counted until its resolution ends ([Stack.SetLookupLimit]).
// The addresses an allowed lookup returns become connectable for the
// instance, the stack's grant limit of them at most, the least recently
// granted forgotten past it ([Stack.SetGrantLimit]); a wildcard rule's
// lookup grants no loopback, link-local or unspecified address, nor an
// IPv6 address a translator or a relay takes to an IPv4 one (NAT64,
// SIIT, IPv4-compatible, 6to4, Teredo), which only a rule naming the
// host, or the address, allows. Nor do "*" and
// address ranges allow loopback or link-local peers, unless the range lies
// inside loopback's or link-local's ([Policy]).
//
// A [TCPSocket] follows the WASI state machine:
//
//	unbound ─start-bind─▶ bind-started ─finish-bind─▶ bound
//	bound ─start-listen─▶ listen-started ─finish-listen─▶ listening
//	unbound|bound ─start-connect─▶ connect-started ─finish-connect─▶ connected | closed
//
// Operations in the wrong state return invalid-state, a finish without its
// start not-in-progress, and a finish whose work is still running
// would-block. Connecting runs net.Dialer once the guest waits for it: on
// the guest's call when it waits for the socket alone (pollable.block),
// as a native client dials; on Linux, when it waits for it alone with a
// deadline, a non-blocking connect(2) on its waits, left in progress at
// each deadline (rawconnect_linux.go); otherwise on a goroutine
// (TCPSocket.StartConnect);
// a listening socket accepts on a goroutine into a queue bounded by the
// backlog size, each queued connection counting as a socket of the
// stack's (past the socket limit the goroutine closes what it accepts).
//
// On Linux the kernel sees the same states (bind_linux.go): start-bind
// makes a socket and binds it (socket(2), bind(2): SO_REUSEADDR and, for
// IPv6, IPv6 only, as Go's listeners; port 0 chosen then, so that
// local-address reports it), and a peer's connect to it is refused;
// start-listen calls listen(2) with the guest's backlog
// (set-listen-backlog-size, at most 4,096 and the kernel's maximum;
// set again while listening, listen(2) again; never set, 4,096, as Go's
// net.Listen asks), beyond which the kernel completes no handshake the
// host's accept queue has no room for (Linux queues one more than the
// backlog); a bound socket that connects is the socket connect(2) runs
// on. Elsewhere start-bind makes a listener at
// once, as net.Listen does: its peers' handshakes complete before
// start-listen, queued in a backlog of the system's maximum size whatever
// the guest sets, and a connect from it closes it and dials from its
// address.
// The socket's pollable is ready when a finish or accept would not return
// would-block.
//
// A connection is shared by the socket and its two streams and is closed
// when the last of the three is dropped, whoever holds them: the guest, or
// the wasi:tls host after the guest moved the streams to it. Dropping an
// unconnected socket cancels its dial or closes its listener and every
// connection queued on it.
//
// A [UDPSocket] binds at start-bind (its errors come from finish-bind);
// once bound, a goroutine reads it into a queue of at most the stack's
// datagram queue size (each datagram into a buffer lent for that read,
// once one has arrived and the queue has room: see readLoop), dropping
// datagrams larger than the datagram limit,
// from peers the policy does not allow, or, once stream was called with a
// remote address, from anyone else. stream returns a pair of datagram
// streams sharing the socket's connection with it (closed when the last of
// the three is dropped); a later stream call makes the previous pair fail
// with invalid-state. receive returns what is queued without waiting and
// its pollable is ready when something is; send writes at once, checking
// every destination against the policy (access-denied) and the datagram
// limit (datagram-too-large), and never waits: on unix a datagram the
// socket's send buffer has no room for ends the send, which returns how
// many went (udpsend_unix.go); check-send grants a fixed permit, none
// from then until the socket is writable again, when the stream's
// pollable is ready (a goroutine watches the socket while a wait watches
// the pollable: sendReady); sending more than the permit traps.
//
// A Stack counts the sockets of its instance (a socket counts until it is
// dropped and its connection is closed) and refuses more than its limit,
// or than its socket pool has room for (see below), with
// new-socket-limit, so a guest cannot exhaust the host's descriptors.
// Connections a listener's accept goroutine queues for the guest count from
// when it queues them; at the limit it holds one more, not counted against
// the limit but drawn from the descriptor pool as every connection it
// accepts is, for the guest's accept (which fails with new-socket-limit
// until there is room) and accepts nothing else, so later clients wait in
// the kernel's backlog.
// An accept the process cannot serve (out of descriptors or memory, which
// other guests share) is the guest's next accept's error, and the
// goroutine tries again after a backoff (retryAccept), the client waiting
// in the kernel's backlog meanwhile. What the stack's TCP connections
// hold unsent, for peers that do not read, shares one budget beyond a
// floor each (SetUnsentBytes, wasiio.UnsentBudget).
//
// # Budgets the guests of a process share
//
// A Stack's limits are its guest's; they do not bound what all the
// guests of a process hold together, and two resources are the
// process's: its descriptors (RLIMIT_NOFILE: past it accept, dial and
// open fail with EMFILE for every guest and for the host's own files)
// and the lookups Go runs on the C library's resolver (at most 500 at
// once, a thread each, past which every lookup of the process waits). So
// every stack also draws from a [Pool] for each: its sockets from a
// descriptor pool (which the guest's files draw from too, through the
// same [Share], Stack.Descriptors), its lookups from a lookup pool. The
// pools are the process's ([ProcessSockets], sized from RLIMIT_NOFILE less
// [DescriptorReserve] when first used, and [ProcessLookups]), not a
// runtime's, because what they protect is the process's, however many
// runtimes it runs; an embedder may give a stack another
// (SetSocketPool, SetLookupPool; runtime.Config.SocketPool and
// LookupPool).
//
// The stack owns its share of a pool ([Share]) and the pool owns only a
// count: a socket takes its unit in acquire, with the stack's own count,
// and gives it back in releaseSocket, with the stack's own count, when
// the socket is dropped and its connection closed (sharedConn.release,
// TCPSocket.Close, UDPSocket.Close, an accepted connection closed in the
// queue); a lookup takes its unit in Resolve, with the stack's own count,
// and its goroutine gives it back when the resolution ends. So whatever
// ends a guest (a drop, a trap, Instance.Close: each drops every
// resource) returns its units as it returns its own counts, and a unit
// is never given back twice. Hold (a TLS connection over another's
// cleartext) counts against the stack's limit only: it holds no
// descriptor. A listener's accept goroutine takes the pool unit of the
// connection it accepts next before accepting it (a listener waiting for
// a connection holds two units), so that no descriptor it accepts is
// outside the pool; one that finds no room in the stack's limit holds the
// connection with that unit alone for the guest's next accept, which
// counts it against the limit then. With the pool spent it accepts
// nothing until a unit is free, as when the process is out of
// descriptors. The resolver's DNS sockets are not drawn from the pool:
// the resolver opens them itself (the C library's inside getaddrinfo);
// the process's lookup pool is sized so that they fit in half the
// reserve ([DNSSocketsPerLookup], [DescriptorReserve]).
//
// # Policy
//
// Every start-bind and start-connect is checked against the [Policy] and
// refused with access-denied when no rule allows it; so is every name
// lookup, every UDP destination and every UDP stream's remote address. See
// [Policy] for the rule syntax.
package sockets
