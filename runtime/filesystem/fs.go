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
	open   int // host files and directories open beyond the preopens, and streams over files
	limit  int
	closed bool

	// budget is the descriptor budget the guest's open files and
	// directories draw from besides limit (nil: none).
	budget DescriptorBudget

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

// A DescriptorBudget is a budget of descriptors the FS shares with
// others, the guest's sockets and other guests' files and sockets
// (sockets.Share: the guest's share of the process's descriptor pool,
// runtime.Config.SocketPool). Every host file or directory the guest
// opens beyond the preopens takes one unit for as long as it is open;
// streams over a file hold no descriptor of their own and take none.
type DescriptorBudget interface {
	// Take takes one unit, or reports false when the budget has none
	// for the guest.
	Take() bool
	// Put gives back one unit Take took.
	Put()
	// Limit is the budget's size, for the refusal's report.
	Limit() int
}

// SetDescriptorBudget sets the budget of descriptors the guest's open
// files and directories draw from besides the file limit (nil: none).
// Past it, opens fail as past the file limit: insufficient-memory
// (wasi:filesystem's open-at and read-directory) and EIO
// (wasi_snapshot_preview1's path_open). Set it before the guest runs.
func (f *FS) SetDescriptorBudget(b DescriptorBudget) {
	f.mu.Lock()
	f.budget = b
	f.mu.Unlock()
}

// Open returns how many host files and directories the guest holds open
// beyond the preopens.
func (f *FS) Open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// acquire counts one more stream over a file against the file limit,
// or fails with insufficient-memory at it; release gives it back.
func (f *FS) acquire() error { return f.count(false) }

func (f *FS) release() {
	f.mu.Lock()
	f.open--
	f.mu.Unlock()
}

// acquireDescriptor counts one more open host file or directory, against
// the file limit and the descriptor budget, or fails with
// insufficient-memory past either; releaseDescriptor gives it back.
func (f *FS) acquireDescriptor() error { return f.count(true) }

func (f *FS) releaseDescriptor() {
	f.mu.Lock()
	f.open--
	b := f.budget
	f.mu.Unlock()
	if b != nil {
		b.Put()
	}
}

// count counts one more file or stream; a descriptor (fd) takes a unit
// of the budget too.
func (f *FS) count(fd bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return BadDescriptor
	}
	if f.open >= f.limit {
		f.disk.caps.Refused(capreport.Files, f.limit)
		return InsufficientMemory
	}
	if fd && f.budget != nil && !f.budget.Take() {
		f.disk.caps.Refused(capreport.SocketPool, f.budget.Limit())
		return InsufficientMemory
	}
	f.open++
	return nil
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
