package filesystem

import (
	"io"
	"strings"
)

// A stream's error reaches the guest as text (to-debug-string), and an
// *os.File's errors name the file by its host path: where the preopen
// lies on the host, its parent directories, a user's name in them. A
// stream over a file reports its errors under the guest's name for the
// file instead (see guestErr).

// namedReader is r, over the file sf, with its errors under the guest's
// name.
type namedReader struct {
	r  io.Reader
	sf *sharedFile
}

func (r namedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	return n, r.sf.guestErr(err)
}

// namedWriter is w, over the file sf, with its errors under the guest's
// name.
type namedWriter struct {
	w  io.Writer
	sf *sharedFile
}

func (w namedWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	return n, w.sf.guestErr(err)
}

// guestErr is err with the file's host path (the one an *os.File's
// errors carry) replaced in its text by the guest's; it unwraps to err,
// so that its error code (CodeOf) and what it wraps stay.
func (s *sharedFile) guestErr(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	msg := err.Error()
	hidden := strings.ReplaceAll(msg, s.f.Name(), s.name)
	if hidden == msg {
		return err
	}
	return &guestNamedError{err: err, msg: hidden}
}

type guestNamedError struct {
	err error
	msg string
}

func (e *guestNamedError) Error() string { return e.msg }
func (e *guestNamedError) Unwrap() error { return e.err }
