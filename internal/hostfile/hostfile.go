// Package hostfile reads the files an operator names to the host at
// start-up (a guest module, trust anchors, an identity's chain and key, an
// OCSP response) and checks the file a key log is appended to.
//
// # Model
//
// A path may name anything: a regular file, a directory, a device such as
// /dev/zero, a named pipe nobody writes to, a huge file. None of them may
// hang the host or make it read without bound, and every error names the
// path and what the file was meant to be:
//
//   - Opening never waits: a named pipe is opened non-blocking, so a pipe
//     without a writer is an error at once instead of an open that waits
//     for one.
//   - A regular file larger than its cap is refused by its size, before
//     anything is read; anything else is read up to the cap and no
//     further.
//   - A pipe, socket or terminal (process substitution, /dev/stdin) is
//     read until its end of file for at most [PipeWait]; a writer that
//     neither writes nor closes is an error then.
//   - A file with a magic number (a wasm module) that is not a regular
//     file is refused on its first bytes, so that /dev/zero or
//     /dev/urandom given as a module is an error at once, not after
//     reading up to the cap. (A regular file is bounded by its size; the
//     caller's own check of its content can say more about it.)
package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// PipeWait bounds the time a file that is not a regular file (a pipe, a
// socket, a terminal) has to deliver its whole content.
var PipeWait = 10 * time.Second

// A Kind says what a file is meant to be, for the checks and the errors.
type Kind struct {
	// What the file is, with its article ("a private key"), for errors.
	What string
	// Max is the most bytes the file may hold.
	Max int64
	// Magic, if not empty, is how a file that is not a regular file must
	// begin.
	Magic string
}

// Read reads the whole of the file at path, of kind k.
func Read(path string, k Kind) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	mode, magic := fi.Mode(), k.Magic
	switch {
	case mode.IsDir():
		return nil, fmt.Errorf("%s: a directory, where %s was expected", path, k.What)
	case mode.IsRegular():
		if fi.Size() > k.Max {
			return nil, k.tooLarge(path)
		}
		magic = ""
	default:
		// A pipe or terminal the poller watches gets a deadline; one it
		// cannot watch (a device such as /dev/zero) never blocks.
		if err := f.SetReadDeadline(time.Now().Add(PipeWait)); err != nil && !errors.Is(err, os.ErrNoDeadline) {
			return nil, err
		}
	}
	b, err := io.ReadAll(&magicReader{r: io.LimitReader(f, k.Max+1), magic: magic})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("%s: %s did not reach its end within %v; name a regular file, or a pipe whose writer closes it", path, describe(mode), PipeWait)
	case errors.Is(err, errMagic):
		return nil, fmt.Errorf("%s: not %s: it does not begin with %q", path, k.What, k.Magic)
	case err != nil:
		return nil, err
	case int64(len(b)) > k.Max:
		clear(b)
		return nil, k.tooLarge(path)
	case len(b) == 0 && mode&fs.ModeNamedPipe != 0:
		return nil, fmt.Errorf("%s: a named pipe with no writer, where %s was expected", path, k.What)
	}
	return b, nil
}

func (k Kind) tooLarge(path string) error {
	return fmt.Errorf("%s: larger than %s, the most %s may take", path, size(k.Max), k.What)
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func describe(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "a pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	}
	return "a file that is not a regular file"
}

var errMagic = errors.New("wrong magic")

// magicReader fails as soon as what it has read differs from magic.
type magicReader struct {
	r     io.Reader
	magic string
	n     int
}

func (m *magicReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if m.n < len(m.magic) {
		want := m.magic[m.n:]
		got := p[:min(n, len(want))]
		if !bytes.Equal(got, []byte(want[:len(got)])) {
			return 0, errMagic
		}
		m.n += len(got)
	}
	return n, err
}

// CheckAppendable checks that path, a file secrets are appended to (a
// key log), is a regular file or can be created as one, without waiting:
// a named pipe would block every write its reader does not take, each
// one in a TLS handshake. It creates the file (mode 0600) if it is
// missing.
func CheckAppendable(path string) error {
	f, err := OpenAppend(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// OpenAppend opens the regular file at path for appending, creating it
// (mode 0600) if it is missing, never waiting to open it: a named pipe
// (even one put in its place after start-up) is an error.
func OpenAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|openNonblock, 0o600)
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
			// Opened non-blocking, a pipe with no reader is ENXIO.
			return nil, fmt.Errorf("%s: a named pipe, not a regular file", path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %s, not a regular file", path, describe(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
