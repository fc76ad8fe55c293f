package backends

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Backend{}
)

// Register makes a backend available by its name. Backends register
// themselves from an init function, as database/sql drivers do; importing
// the backend's package is what makes it available, so a binary carries only
// the backends it imports. Register panics on a nil Backend, or an empty
// or duplicate name.
func Register(b Backend) {
	if b == nil {
		panic("backends: Register with a nil Backend")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	name := b.Name()
	if name == "" {
		panic("backends: Register with an empty name")
	}
	if _, dup := registry[name]; dup {
		panic("backends: Register called twice for " + name)
	}
	registry[name] = b
}

// ByName returns the backend registered under name.
func ByName(name string) (Backend, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if b, ok := registry[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("backends: no backend named %q (registered: %v)", name, namesLocked())
}

// Names lists the registered backends, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Clip(names)
}
