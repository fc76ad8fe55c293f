package tlshost

import (
	"strings"

	"github.com/wasitls/wasitls/backends"
)

// A backendError is an error the backend returned, which names the backend
// once. The errors of most backends begin with its name, as a Go
// package's begin with the package's ("stdtls: ..."), and are left as they
// are; others (the "tls: ..." of a crypto/tls fork, a transport's) get
// "tlshost: NAME backend: " before them. A failed handshake's error is
// one too (driver.end), made before detachErr flattens it, so that what
// the guest reads of it names the backend; the host's own reasons for
// ending a handshake (the guest's abort, the handshake timeout, the
// bound on the peer's bytes) are not. (A log line names the backend in
// its backend attribute as well, as it does for every failure.)
type backendError struct {
	backend string
	err     error
}

// backendErr wraps err, from the backend b, in a backendError.
func backendErr(b backends.Backend, err error) error {
	if _, ok := err.(*BackendPanicError); ok {
		return err // names the backend already
	}
	return &backendError{backend: b.Name(), err: err}
}

func (e *backendError) Error() string {
	msg := e.err.Error()
	if strings.HasPrefix(msg, e.backend+": ") {
		return msg
	}
	return "tlshost: " + e.backend + " backend: " + msg
}

func (e *backendError) Unwrap() error { return e.err }
