package tlsdraft

import "structs"

// futureClientStreamsGetMem is
// option<result<result<tuple<client-connection, input-stream, output-stream>, io-error>>>:
// on the inner error case Handles[0] is the io-error handle. A host-side test
// compares it with the WIT.
type futureClientStreamsGetMem struct {
	_       structs.HostLayout
	IsSome  uint8
	_       [3]uint8
	Outer   uint8
	_       [3]uint8
	Inner   uint8
	_       [3]uint8
	Handles [3]uint32
}
