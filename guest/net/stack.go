//go:build wasip1

package wasinet

// stackReserve is what a Read's wait (read, poll.Wait and the poller's
// round down to the host call and its allocation) takes of a goroutine's
// stack below StreamReader.Read, rounded up: a new goroutine starts with
// 2 KiB, of which about 1.1 KiB are usable above WebAssembly's guard.
const stackReserve = 1536

// reserveStack grows the calling goroutine's stack, if the wait below it
// must grow it at all, while few frames are on it.
//
// Copying a stack adjusts every frame on it, each an unwinder step with
// its stack map: a connection goroutine (a server's "go handle(conn)")
// whose first Read waits grew twelve frames deep, in the poller's round.
// A reader's first Read that goes on past its first read (to wait, or to
// wait first) calls it, so that the growth copies six frames (goexit, the
// go statement's wrapper, the handler, Conn.Read, StreamReader.Read and
// this one). A goroutine whose stack is large enough (a TLS connection's,
// which guest/tls grew for its handshake) pays a call and the clearing of
// the frame, once per reader.
//
//go:noinline
func reserveStack(n int) byte {
	var pad [stackReserve]byte
	pad[n%stackReserve] = byte(n)
	return pad[(n+1)%stackReserve]
}
