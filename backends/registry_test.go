package backends

import (
	"net"
	"slices"
	"strings"
	"testing"
)

type fakeBackend struct{ name string }

func (f fakeBackend) Name() string { return f.name }
func (fakeBackend) ParseIdentity([]byte, [][]byte) (*Identity, error) {
	return nil, ErrNotSupported
}
func (fakeBackend) Client(net.Conn, *ClientConfig) (Conn, error) { return nil, ErrNotSupported }
func (fakeBackend) Server(net.Conn, *ServerConfig) (Conn, error) { return nil, ErrNotSupported }

func mustPanic(t *testing.T, what, mention string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s did not panic", what)
		} else if s, _ := r.(string); !strings.Contains(s, mention) {
			t.Errorf("%s panicked with %v; want it to mention %q", what, r, mention)
		}
	}()
	f()
}

func TestRegistry(t *testing.T) {
	// The registry is the process's: take the test backends out again, so
	// that the test runs more than once (-count) and leaves the others.
	t.Cleanup(func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		delete(registry, "registry-test-a")
		delete(registry, "registry-test-b")
	})
	Register(fakeBackend{"registry-test-b"})
	Register(fakeBackend{"registry-test-a"})
	b, err := ByName("registry-test-a")
	if err != nil || b.Name() != "registry-test-a" {
		t.Fatalf("ByName = %v, %v", b, err)
	}
	names := Names()
	if !slices.IsSorted(names) || !slices.Contains(names, "registry-test-a") || !slices.Contains(names, "registry-test-b") {
		t.Errorf("Names() = %v; want both test backends, sorted", names)
	}
	_, err = ByName("registry-test-missing")
	if err == nil || !strings.Contains(err.Error(), "registry-test-missing") || !strings.Contains(err.Error(), "registry-test-a") {
		t.Errorf("ByName(missing) = %v; want an error naming it and the registered backends", err)
	}
	mustPanic(t, "Register twice", "twice", func() { Register(fakeBackend{"registry-test-a"}) })
	mustPanic(t, "Register with an empty name", "empty", func() { Register(fakeBackend{""}) })
	// Before, a nil Backend panicked with a nil dereference in Name,
	// naming neither Register nor the mistake.
	mustPanic(t, "Register(nil)", "backends: Register with a nil Backend", func() { Register(nil) })
}
