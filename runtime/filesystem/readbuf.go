package filesystem

import (
	"context"
	"sync"

	"github.com/wasitls/wasitls/cabi"
)

// smallRead is the largest read whose buffer Read allocates for the call;
// a larger one reads into a buffer of maxRead bytes from readBufs, lent
// for the call.
const smallRead = 32 << 10

// readBufs holds the buffers larger reads are made into (*[]byte, each
// maxRead bytes): the glue copies a read's bytes into guest memory once,
// from a buffer the host reuses, where a guest reading 1 MiB a call made
// the host allocate 1 MiB each time. What the pool keeps between reads is
// the garbage collector's to free.
var readBufs = sync.Pool{New: func() any { b := make([]byte, maxRead); return &b }}

// readBuf returns a buffer of n bytes (n <= maxRead) for a read of the
// guest's. A pooled one is lent to the FS until the host call ends
// (cabi.Instance.AfterCall), or, called without one (directly, not
// through the glue), until the FS's next read: the guest's calls run one
// at a time, so each FS lends at most one, and only while a call is
// under way when called through the glue.
func (f *FS) readBuf(ctx context.Context, n int) []byte {
	f.returnRead()
	if n <= smallRead {
		return make([]byte, n)
	}
	f.lentRead = readBufs.Get().(*[]byte)
	if inst := cabi.InstanceFrom(ctx); inst != nil {
		if f.returnReadFn == nil {
			f.returnReadFn = f.returnRead
		}
		inst.AfterCall(f.returnReadFn)
	}
	return (*f.lentRead)[:n]
}

// returnRead puts the buffer lent for a read back in readBufs.
func (f *FS) returnRead() {
	if b := f.lentRead; b != nil {
		f.lentRead = nil
		readBufs.Put(b)
	}
}
