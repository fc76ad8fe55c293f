// Package pinname ties a release to the lifetime of wazero module
// instances, through the name they are instantiated with.
//
// A module instance keeps its name (wazero.ModuleConfig's WithName) as
// given, for as long as the instance is reachable, closed or not, whether
// or not its instantiation succeeded, and so does whatever reaches the
// instance: its api.Module, its api.Memory (which reaches the instance's
// engine, which reaches the instance), its api.Function values, a call
// running in it. A name made by Pin lives in an allocation of its own
// whose cleanup calls the release: once every module instance named with
// it (and every copy of the string) is garbage.
//
// The module instance itself cannot carry the cleanup when its
// instantiation fails: wazero returns no module then, though a host
// function the start section called may have kept it. Nor can its memory's
// allocator (experimental.LinearMemory), which wazero drops as it closes
// the module while the api.Memory still reads the pages.
package pinname

import (
	goruntime "runtime"
	"unsafe"
)

// minSize is the size of a name's allocation at least: smaller objects
// without pointers may share a block (Go's tiny allocator), and the
// cleanup of one that does may never run.
const minSize = 16

// Pin returns name, equal to it, in an allocation whose cleanup calls
// release once nothing reaches the returned string: name every module
// instance release is to outlive with it. An empty name has an
// allocation too.
func Pin(name string, release func()) string {
	b := make([]byte, max(len(name), minSize))
	copy(b, name)
	goruntime.AddCleanup(&b[0], func(f func()) { f() }, release)
	return unsafe.String(&b[0], len(name))
}
