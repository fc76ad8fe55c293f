// Package wasiio implements the host side of wasi:io (error, poll and
// streams) as plain Go types that the runtime, the wasi:sockets host and the
// wasi:tls host share.
//
// # Model
//
// A [Source] is anything that can become ready: a [Signal] fired from any
// goroutine, a deadline, a stream with buffered data. A [Pollable] is the
// guest-visible resource over a Source; several pollables may watch one
// Source, and a pollable may have a parent resource (the stream or socket it
// was subscribed from) that the guest must not drop first.
//
// Waiting follows a waker registration model. [Wait] creates one [Waker],
// registers it with every Source it was given, checks each Source once and,
// when none is ready, sleeps until a Source wakes it, the earliest deadline
// passes or the context is done. It then unregisters everywhere and reports
// every ready index. The cost of a call is proportional to the number of
// pollables; nothing spins, and no goroutine is created per pollable.
// Wake-ups are sticky (a buffered channel of one), so a Source that becomes
// ready between registration and sleep is never missed.
//
// [InputStream] and [OutputStream] adapt an [io.Reader] and an [io.Writer]
// to the wasi:io stream contract with one background goroutine each, started
// on first use:
//
// The types implement the generated interfaces (poll.Pollable,
// streams.InputStream, streams.OutputStream, ioerror.Error) directly, so
// that any host (wasi:sockets, wasi:cli, wasi:tls) hands them to guests.
//
//   - Read returns what is buffered and never blocks; the reader goroutine
//     reads at most two chunks ahead (the next one while the guest consumes
//     the current one), so memory per stream is bounded.
//   - CheckWrite grants a budget of [WriteBudget] bytes when no write is in
//     flight and zero while one is; Write hands a copy of the bytes to the
//     writer goroutine; Flush is then complete when CheckWrite grants a
//     budget again, which is also when the stream's pollable is ready. The
//     copy's buffer returns to a shared pool when the write completed, so
//     an idle stream holds none.
//   - The end of input (io.EOF) and a stream closed on purpose are
//     reported as the stream-error closed case; any other failure as
//     last-operation-failed holding an [*Error] resource whose debug string
//     says what happened (the Go error's message). A failure is reported
//     once; afterwards the stream is closed, as wasi:io specifies.
//   - A write beyond the budget traps the guest, as wasi:io specifies. A
//     blocking call whose context ends (the instance is being closed)
//     exits the guest instead of returning.
//
// Inline streams ([InlineInputStream], [NewInlineOutputStream]) are the
// fast path for sources that can be driven without blocking, such as a TLS
// connection over a [NonblockingTransport]: a goroutine hand-off costs more
// than the work itself (encrypting 16 KiB), so the work runs on the guest's
// own calls. The two kinds of input stream are two types that share the
// bytes read and not consumed yet and the end of the input (inputState);
// [Input] is either.
//
//   - Read calls the source's non-blocking read and returns what it got
//     (filling the request while bytes are at hand); nothing buffered
//     means an empty result. Only when the guest waits does a goroutine
//     make one blocking read, whose bytes the next Read returns; reading
//     then goes back to the guest's calls.
//   - Write calls the writer at once; it does not block, because the
//     transport takes every byte (into the socket, or a queue that a
//     goroutine writes out while anything is unsent). Over a socket's
//     queue, writes within the permit made while the queue holds bytes
//     unsent are gathered instead and written as one once it is empty,
//     so that a guest writing a byte at a time does not make a TLS record
//     of each, whose expansion no permit covers. CheckWrite grants a
//     budget and a flush is complete when nothing is unsent, so a peer
//     that does not read stops the guest's writes, not its memory.
//   - A guest's sockets share an [UnsentBudget]: each queue holds
//     [UnsentFloor] on its own, and what it holds beyond, or reserves
//     for a permit, counts against the guest's total. Short of it,
//     CheckWrite grants less (down to what the floor covers, 16 KiB)
//     rather than fail, and the stream's pollable is still ready when its
//     own queue is empty: the guest waits, and a peer that never reads
//     cannot starve its other connections. The host holds at most
//     sockets × UnsentFloor plus the budget.
//
// A TCP socket's own streams are inline in the same way ([SocketStreams]):
// their source is the socket itself, read and written with non-blocking
// system calls, and a transport over them ([Transport]) shares the output
// stream's queue, so that TLS records follow what the guest wrote.
//
// Ownership: dropping a stream releases its underlying reader or writer
// through the closer given to the constructor. Sockets pass a closer that
// drops one reference of a shared connection, so the connection stays open
// until the socket and both of its streams are gone, whoever owns them (the
// guest's table or the wasi:tls host after a move). Dropping a socket's
// input stream also ends a read of the socket a goroutine makes for it (a
// read deadline in the past, cleared once the read returned): a silent
// peer would otherwise keep that goroutine and its buffer as long as the
// socket lives. [Transport] turns a
// stream pair back into a [net.Conn] for code that wants one, unwrapping a
// socket's pair to the connection itself when no read-ahead is buffered.
package wasiio
