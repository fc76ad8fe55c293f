package filesystem

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
)

// DefaultFileLimit is how many host files and directories one guest
// instance holds open at once unless SetLimit says otherwise.
const DefaultFileLimit = 256

// A Preopen is a host directory offered to the guest.
type Preopen struct {
	Host     string // the directory on the host
	Guest    string // the path the guest knows it by
	ReadOnly bool
}

// An FS is the file system of one guest instance.
type FS struct {
	preopens []*preopen
	key      [16]byte // keys metadata hashes, so that they do not reveal inode numbers

	mu     sync.Mutex
	open   int // host files and directories open beyond the preopens
	limit  int
	closed bool

	disk diskQuota

	// timesNoFollow is set within SetTimesNoFollow.
	timesNoFollow atomic.Bool

	// lentRead is the buffer lent to the read under way, or nil, and
	// returnReadFn its release (see readBuf).
	lentRead     *[]byte
	returnReadFn func()
}

type preopen struct {
	fs       *FS
	host     string
	guest    string
	root     *os.Root
	readOnly bool
}

// New opens the preopens. It fails when a host directory cannot be opened.
func New(dirs []Preopen) (*FS, error) {
	f := &FS{limit: DefaultFileLimit}
	f.disk.limit = DefaultDiskBytes
	f.disk.maxFiles = DefaultDiskFiles
	rand.Read(f.key[:])
	for _, d := range dirs {
		root, err := os.OpenRoot(d.Host)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("filesystem: preopen %s: %w", d.Host, err)
		}
		f.preopens = append(f.preopens, &preopen{fs: f, host: d.Host, guest: d.Guest, root: root, readOnly: d.ReadOnly})
	}
	return f, nil
}

// SetLimit bounds the host files and directories the guest holds open at
// once (n > 0).
func (f *FS) SetLimit(n int) {
	f.mu.Lock()
	f.limit = n
	f.mu.Unlock()
}

// Open returns how many host files and directories the guest holds open
// beyond the preopens.
func (f *FS) Open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// acquire counts one more open host file, or fails with
// insufficient-memory at the limit.
func (f *FS) acquire() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return BadDescriptor
	}
	if f.open >= f.limit {
		f.disk.caps.Refused(capreport.Files, f.limit)
		return InsufficientMemory
	}
	f.open++
	return nil
}

func (f *FS) release() {
	f.mu.Lock()
	f.open--
	f.mu.Unlock()
}

// Close closes the preopens. Descriptors still held are closed when the
// guest's table drops them.
func (f *FS) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.disk.forget()
	var errs []error
	for _, p := range f.preopens {
		errs = append(errs, p.root.Close())
	}
	return errors.Join(errs...)
}

// Directories returns a new descriptor for each preopen with its guest
// path: get-directories.
func (f *FS) Directories() []cabi.Tuple2[types.Descriptor, string] {
	out := make([]cabi.Tuple2[types.Descriptor, string], 0, len(f.preopens))
	for _, p := range f.preopens {
		flags := types.DescriptorFlagsRead
		if !p.readOnly {
			flags |= types.DescriptorFlagsMutateDirectory
		}
		d := &Descriptor{pre: p, dir: p.root, path: ".", flags: flags}
		out = append(out, cabi.Tuple2[types.Descriptor, string]{F0: d, F1: p.guest})
	}
	return out
}
