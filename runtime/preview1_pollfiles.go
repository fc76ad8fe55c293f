package runtime

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"
)

const (
	fdstatName = "fd_fdstat_get"
	fdstatSize = 24 // bytes of a preview1 fdstat

	eventTypeFdRead   = 1 // preview1 eventtype fd_read
	filetypeDirectory = 3 // preview1 filetype directory
	filetypeRegular   = 4 // preview1 filetype regular_file
)

// pollFilesReady is poll_oneoff(in, out, nsubscriptions, nevents) that
// answers at once, without calling poll, when a subscription to read
// names a regular file or a directory, which are always ready to read
// (POSIX poll): an event for each such subscription, and none for the
// others. wazero's poll_oneoff waits on standard input for a
// subscription on any descriptor not in non-blocking mode: before, a
// guest polling a regular file it opened waited for standard input, for
// ever if nobody wrote to it. Each descriptor is looked up through
// wazero's fd_fdstat_get, which writes its 24 bytes at out, put back as
// they were; poll runs on a memory as the guest left it.
func pollFilesReady(poll, fdstat api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		out, nevents := uint32(stack[1]), uint32(stack[3])
		// the user data of each subscription ready at once
		ready := readyFiles(ctx, mod, fdstat, pollSubscriptions(mod, stack), out)
		if len(ready) == 0 {
			poll.Call(ctx, mod, stack)
			return
		}
		mem := mod.Memory()
		var event [eventSize]byte
		event[10] = eventTypeFdRead
		for i, userData := range ready {
			copy(event[:8], userData[:])
			if !mem.Write(out+uint32(i)*eventSize, event[:]) {
				stack[0] = errnoFault
				return
			}
		}
		if !mem.WriteUint32Le(nevents, uint32(len(ready))) {
			stack[0] = errnoFault
			return
		}
		stack[0] = 0
	})
}

// pollSubscriptions is the guest memory holding the subscriptions of a
// poll_oneoff(in, out, nsubscriptions, nevents), a view of it, not a
// copy; nil when they are not all in it (poll answers the fault).
func pollSubscriptions(mod api.Module, stack []uint64) []byte {
	mem, n := mod.Memory(), uint64(uint32(stack[2]))
	if mem == nil || n*subscriptionSize > math.MaxUint32 {
		return nil
	}
	subs, _ := mem.Read(uint32(stack[0]), uint32(n*subscriptionSize))
	return subs
}

// readyFiles returns the user data of the subscriptions of subs (their
// bytes in guest memory) to read a regular file or a directory, looked up
// with fdstat, whose 24 bytes of output go at out and are put back. It
// looks up no descriptor when no subscription reads one but standard
// input, which wazero polls itself.
func readyFiles(ctx context.Context, mod api.Module, fdstat api.GoModuleFunction, subs []byte, out uint32) [][8]byte {
	var ready [][8]byte
	var saved []byte
	mem := mod.Memory()
	for sub := subs; len(sub) >= subscriptionSize; sub = sub[subscriptionSize:] {
		fd := binary.LittleEndian.Uint32(sub[16:])
		if sub[8] != eventTypeFdRead || fd == 0 {
			continue
		}
		if saved == nil {
			b, ok := mem.Read(out, fdstatSize)
			if !ok {
				return nil // poll answers the fault
			}
			saved = append([]byte(nil), b...)
		}
		var userData [8]byte
		copy(userData[:], sub[:8]) // before fdstat writes out, which may overlap it
		st := []uint64{uint64(fd), uint64(out)}
		fdstat.Call(ctx, mod, st)
		filetype, _ := mem.ReadByte(out)
		mem.Write(out, saved)
		if st[0] == 0 && (filetype == filetypeRegular || filetype == filetypeDirectory) {
			ready = append(ready, userData)
		}
	}
	return ready
}

const (
	eventTypeClock     = 0  // preview1 eventtype clock
	clockTimeoutOffset = 24 // of a clock subscription's timeout (u64 nanoseconds)
	clockFlagsOffset   = 40 // of its subclockflags (u16)
)

// clampPollClocks is poll_oneoff(in, out, nsubscriptions, nevents) with
// each relative clock subscription's timeout cut to a century, as the
// WASI 0.2 clocks' (clampDuration): wazero turns a timeout past
// math.MaxInt64 nanoseconds into a negative Duration and answers at once,
// so that a guest asking to sleep "for ever" (a timeout of 2^64-1) woke at
// once, and one looping on such a poll spun. Each timeout cut is put back
// after poll, unless poll wrote over it (its events may overlap the
// subscriptions); poll reads a memory as the guest left it otherwise.
// The least of the timeouts, cut, is noted for a wait on standard input
// (waits.polls), which wazero hands in milliseconds cut to an int32: a
// poll of standard input beside a clock of 2^32+1 ms would answer after
// 1 ms.
func clampPollClocks(poll api.GoModuleFunction) api.GoModuleFunction {
	century := uint64(clampDuration(math.MaxUint64))
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		subs := pollSubscriptions(mod, stack)
		type cut struct {
			at      []byte
			timeout uint64
		}
		var cuts []cut
		least := time.Duration(-1) // the least relative timeout, cut; none
		for sub := subs; len(sub) >= subscriptionSize; sub = sub[subscriptionSize:] {
			at := sub[clockTimeoutOffset : clockTimeoutOffset+8]
			timeout := binary.LittleEndian.Uint64(at)
			if sub[8] != eventTypeClock || binary.LittleEndian.Uint16(sub[clockFlagsOffset:]) != 0 {
				continue
			}
			if d := time.Duration(min(timeout, century)); least < 0 || d < least {
				least = d
			}
			if timeout <= century {
				continue
			}
			binary.LittleEndian.PutUint64(at, century)
			cuts = append(cuts, cut{at, timeout})
		}
		// A wait on standard input takes the timeout from here, whole
		// (waits.pollTimeout).
		if g := GuestFrom(ctx); g != nil {
			defer g.state.waits.polls(least)()
		}
		poll.Call(ctx, mod, stack)
		for _, c := range cuts {
			if binary.LittleEndian.Uint64(c.at) == century {
				binary.LittleEndian.PutUint64(c.at, c.timeout)
			}
		}
	})
}
