package filesystem

import (
	"context"
	"sync"

	"github.com/wasitls/wasitls/cabi"
)

// smallRead is the size of the buffers reads of at most as much are made
// into; larger ones are made into buffers of maxRead bytes.
const smallRead = 64 << 10

// readBufs hold the buffers reads are made into (*[]byte, smallRead and
// maxRead bytes): the glue copies a read's bytes into guest memory once,
// from a buffer the host reuses, where a guest reading 1 MiB a call made
// the host allocate 1 MiB each time. What the pools keep between reads is
// the garbage collector's to free.
var readBufs = [2]sync.Pool{
	{New: func() any { b := make([]byte, smallRead); return &b }},
	{New: func() any { b := make([]byte, maxRead); return &b }},
}

// readBuf returns a buffer of n bytes (n <= maxRead) for a read of the
// guest's, lent to the FS until the host call ends
// (cabi.Instance.AfterCall), or, called without one (directly, not
// through the glue), until the FS's next read: the guest's calls run one
// at a time, so each FS lends at most one, and only while a call is
// under way when called through the glue.
func (f *FS) readBuf(ctx context.Context, n int) []byte {
	f.returnRead()
	if n > smallRead {
		f.lentRead = readBufs[1].Get().(*[]byte)
	} else {
		f.lentRead = readBufs[0].Get().(*[]byte)
	}
	if inst := cabi.InstanceFrom(ctx); inst != nil {
		if f.returnReadFn == nil {
			f.returnReadFn = f.returnRead
		}
		inst.AfterCall(f.returnReadFn)
	}
	return (*f.lentRead)[:n]
}

// returnRead puts the buffer lent for a read back in its pool.
func (f *FS) returnRead() {
	if b := f.lentRead; b != nil {
		f.lentRead = nil
		if len(*b) > smallRead {
			readBufs[1].Put(b)
		} else {
			readBufs[0].Put(b)
		}
	}
}
