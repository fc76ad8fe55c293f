//go:build wasip1

package wasitls

// stackReserve is what the handshake path (and the reads and writes that
// follow it) takes of a goroutine's stack beyond the caller's frames,
// rounded up: a new goroutine starts with 2 KiB, of which about 1.1 KiB
// are usable above the guard, and the handshake path needs more.
const stackReserve = 1536

// reserveStack grows the calling goroutine's stack, if it must grow for
// the handshake path at all, while few frames are on it.
//
// A goroutine whose stack is too small grows it (runtime.newstack) at the
// first call that does not fit, and copying a stack adjusts every frame on
// it, looking up each frame's stack map: in WebAssembly, for a connection
// goroutine (a server's "go handle(conn)") that grew twelve frames deep in
// the handshake, that was about a seventh of the guest's own time per
// handshake. Growing here copies the same stack with a fraction of the
// frames, and each frame costs: Handshake and HandshakeContext call it
// first thing, so that a connection goroutine's growth copies five
// frames: goexit at its start, the go statement's wrapper, the handler,
// the method and this one. A goroutine whose stack is large enough pays a
// call and the clearing of the frame.
//
//go:noinline
func reserveStack(n int) byte {
	var pad [stackReserve]byte
	pad[n%stackReserve] = byte(n)
	return pad[(n+1)%stackReserve]
}
