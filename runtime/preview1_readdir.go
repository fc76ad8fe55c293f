package runtime

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/tetratelabs/wazero/api"
)

const (
	readdirName = "fd_readdir"
	// readdirChunk is the most of a guest's fd_readdir buffer one call of
	// wazero's fd_readdir fills (see chunkReaddir).
	readdirChunk = 64 << 10
	direntSize   = 24 // bytes of a preview1 dirent before its name
)

// chunkReaddir is fd_readdir(fd, buf, buf_len, cookie, bufused) that
// fills a buffer larger than readdirChunk by calling wazero's fd_readdir
// for a chunk of it at a time, each from the cookie of the first entry
// the chunk before did not hold whole, into the buffer where that entry
// began: what the guest reads is what one call writes, entries one after
// another and the last one cut at the buffer's end.
//
// wazero reads buf_len/24 entries from the directory before it looks at
// the guest's memory, each with an lstat, and keeps those the guest did
// not take yet for its next call until the descriptor is closed: a guest
// of one page asking for 4 GiB made the host read a whole directory, 30,000
// entries allocating 11 MiB and keeping 1.4 MiB for an EFAULT, and 256
// descriptors over a directory of the million files its disk quota lets
// it make kept some 12 GiB. A chunk reads and keeps at most 2,732 entries.
//
// wazero keeps the entries from the last chunk on, where it kept all the
// call's: a cookie before them, an earlier chunk's, is served by
// seekReaddir.
func chunkReaddir(readdir api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		buf, bufLen, resultBufused := uint32(stack[1]), uint32(stack[2]), uint32(stack[4])
		mem := mod.Memory()
		if bufLen <= readdirChunk || mem == nil {
			readdir.Call(ctx, mod, stack)
			return
		}
		fd, cookie := stack[0], stack[3]
		var used uint32
		for used < bufLen {
			at := uint64(buf) + uint64(used)
			if at > math.MaxUint32 {
				stack[0] = errnoFault
				return
			}
			n := min(bufLen-used, readdirChunk)
			if n < direntSize {
				// Too little left for an entry's header, which wazero
				// would cut there: the buffer is full, and the guest
				// asks again from the cookie of the entry it did not
				// hold whole (where the directory may have ended).
				used = bufLen
				break
			}
			call := [5]uint64{fd, at, uint64(n), cookie, uint64(resultBufused)}
			readdir.Call(ctx, mod, call[:])
			if call[0] != 0 {
				stack[0] = call[0]
				return
			}
			got, ok := mem.ReadUint32Le(resultBufused)
			if !ok {
				stack[0] = errnoFault
				return
			}
			if got < n { // the end of the directory
				used += got
				break
			}
			end, next := wholeDirents(mem, uint32(at), n)
			if end == 0 || next <= cookie {
				// No entry whole (the buffer's end cuts the one there),
				// or entries the guest's own bufused overwrote: as
				// wazero wrote them.
				used += n
				break
			}
			used += end
			cookie = next
		}
		if !mem.WriteUint32Le(resultBufused, used) {
			stack[0] = errnoFault
			return
		}
		stack[0] = 0
	})
}

// wholeDirents returns where the entries that fit whole in the n bytes
// at at end, and the cookie of the entry after them.
func wholeDirents(mem api.Memory, at, n uint32) (end uint32, next uint64) {
	for end+direntSize <= n {
		h, ok := mem.Read(at+end, direntSize)
		if !ok {
			break
		}
		size := uint64(direntSize) + uint64(binary.LittleEndian.Uint32(h[16:]))
		if uint64(end)+size > uint64(n) {
			break
		}
		next = binary.LittleEndian.Uint64(h)
		end += uint32(size)
	}
	return end, next
}

// seekReaddir is fd_readdir(fd, buf, buf_len, cookie, bufused) that
// serves a cookie before the entries wazero keeps. wazero keeps the
// entries from the cookie of the descriptor's last call on, reads the
// directory forward only, and answers an earlier cookie (a seekdir(3) back
// to where telldir(3) was, before the last call or its last chunk) with
// ENOENT; only 0 rewinds. Here such a cookie is reached again by reading
// the directory from its start: calls of wazero's from cookie 0 into the
// guest's buffer, a chunk of it at most, each from the last entry the one
// before kept (a call keeps at least buf_len/24+2 from its cookie, unless
// the directory ends), until the cookie is among those kept; then the
// guest's call is made again. The host keeps no more than a call does; the
// entries are counted again from the directory as it is now, as after a
// rewind. The reading stops when the call's context ends (EINTR).
func seekReaddir(readdir api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		params := [5]uint64(stack[:5])
		readdir.Call(ctx, mod, stack)
		fd, buf, bufLen, cookie, resultBufused := params[0], params[1], uint32(params[2]), params[3], params[4]
		mem := mod.Memory()
		if stack[0] != errnoNoent || cookie == 0 || bufLen < direntSize || mem == nil {
			return
		}
		step := min(bufLen, readdirChunk)
		kept := uint64(step/direntSize) + 2
		for pos := uint64(0); pos < cookie; pos = min(cookie, pos+kept) {
			if ctx.Err() != nil {
				stack[0] = errnoIntr
				return
			}
			call := [5]uint64{fd, buf, uint64(step), pos, resultBufused}
			readdir.Call(ctx, mod, call[:])
			if call[0] != 0 {
				stack[0] = call[0]
				return
			}
			if used, ok := mem.ReadUint32Le(uint32(resultBufused)); !ok {
				stack[0] = errnoFault
				return
			} else if used < step {
				break // the directory's end: wazero keeps all from pos
			}
		}
		copy(stack, params[:])
		readdir.Call(ctx, mod, stack)
	})
}
