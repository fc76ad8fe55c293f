package tlshost

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/safelog"
)

// A hostBackend is the backend as the host holds it. What the backend
// says of itself, its Name and, for a backends.Describer, Supported and
// Defaults, is asked once, under the shield, when the host is made
// (describe): a panic there is an error of NewHost (and so of
// runtime.New, through New) or of LoadIdentity, and nothing a guest or
// a peer does enters those methods again; every connection, log line and
// allowed-algorithms or default-algorithms call reads what was said
// then. Its ParseIdentity runs under the shield too. Client and Server
// are the backend's, shielded where the host calls them (ending.open).
//
// A backend that is a Describer is held as a hostDescriber, so that the
// host's type tests for backends.Describer still tell the two apart.
type hostBackend struct {
	backends.Backend
	name string
	// log, if not nil, logs a panic of the backend with its stack.
	log func(err error, stack []byte)
}

// A hostDescriber is the hostBackend of a backends.Describer.
type hostDescriber struct {
	*hostBackend
	supported, defaults backends.Algorithms
}

var (
	_ backends.Backend   = (*hostBackend)(nil)
	_ backends.Describer = (*hostDescriber)(nil)
)

// describe asks b what it says of itself, under the shield, and returns
// it as the host holds it; logger, if not nil, receives a panic of b
// with its stack, then and later. A panic is the error, a
// *BackendPanicError naming b by its Go type when Name panicked.
func describe(b backends.Backend, logger *slog.Logger) (backends.Backend, error) {
	h := &hostBackend{Backend: b, name: fmt.Sprintf("%T", b)}
	h.log = func(err error, stack []byte) { logBackendPanic(logger, h.name, err, stack) }
	name, err := shielded(h, "Name", b.Name)
	if err != nil {
		return nil, err
	}
	h.name = name
	d, ok := b.(backends.Describer)
	if !ok {
		return h, nil
	}
	supported, err := shielded(h, "Supported", d.Supported)
	if err != nil {
		return nil, err
	}
	defaults, err := shielded(h, "Defaults", d.Defaults)
	if err != nil {
		return nil, err
	}
	return &hostDescriber{hostBackend: h, supported: cloneAlgorithms(supported), defaults: cloneAlgorithms(defaults)}, nil
}

// logBackendPanic logs a panic of the backend named backend (see shield)
// with its stack, which the guest never sees, to logger, if not nil; a
// panic of logger is recovered (safelog.Log).
func logBackendPanic(logger *slog.Logger, backend string, err error, stack []byte) {
	safelog.Log(logger, slog.LevelError, "wasi:tls: the backend panicked", "backend", backend, "err", err, "stack", string(stack))
}

// shielded returns f(), the backend's method op, or its panic as the
// error, logged through h.
func shielded[T any](h *hostBackend, op string, f func() T) (v T, err error) {
	s := shield{backend: h.name, log: h.log}
	defer s.catch(op, &err)
	return f(), nil
}

// Name is the backend's, as it said when the host was made.
func (b *hostBackend) Name() string { return b.name }

// ParseIdentity is the backend's, shielded: a panic is its error. The
// backend must copy what it keeps of key and chain.
func (b *hostBackend) ParseIdentity(key []byte, chain [][]byte) (id *backends.Identity, err error) {
	s := shield{backend: b.name, log: b.log}
	defer s.catch("ParseIdentity", &err)
	return b.Backend.ParseIdentity(key, chain)
}

// Unwrap returns the backend the embedder gave.
func (b *hostBackend) Unwrap() backends.Backend { return b.Backend }

// Supported is the backend's, as it said when the host was made.
func (b *hostDescriber) Supported() backends.Algorithms { return b.supported }

// Defaults is the backend's, as it said when the host was made.
func (b *hostDescriber) Defaults() backends.Algorithms { return b.defaults }

// unwrapBackend returns the backend the embedder gave for b, the host's.
func unwrapBackend(b backends.Backend) backends.Backend {
	if h, ok := b.(interface{ Unwrap() backends.Backend }); ok {
		return h.Unwrap()
	}
	return b
}

func cloneAlgorithms(a backends.Algorithms) backends.Algorithms {
	return backends.Algorithms{Versions: slices.Clone(a.Versions), CipherSuites: slices.Clone(a.CipherSuites), Groups: slices.Clone(a.Groups)}
}
