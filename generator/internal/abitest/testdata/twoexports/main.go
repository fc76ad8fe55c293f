//go:build wasip1

// Command twoexports is a reactor (build with -buildmode=c-shared) that
// exports two interfaces from one core module, test:kitchen/plugin@0.1.0
// and test:kitchen/calc@0.1.0, through the generated guest bindings
// (../../../pluginguest, ../../../calcguest): the host's test that a call
// into one interface claims the whole instance calls the other from within
// it. It implements only the functions that test calls, as plugingen and
// calcguest do; any other traps (its method is the nil embedded
// interface's).
package main

import (
	"strings"

	"github.com/wasitls/wasitls/generator/internal/calcguest/test/kitchen/calc"
	"github.com/wasitls/wasitls/generator/internal/pluginguest/test/kitchen/plugin"
)

func main() {}

func init() {
	plugin.SetExports(pluginExports{})
	calc.SetExports(calcExports{})
}

type pluginExports struct{ plugin.Exports }

func (pluginExports) Add(a, b uint32) uint32 { return a + b }
func (pluginExports) Shout(s string) string  { return strings.ToUpper(s) + "!" }

// SumCounters reads the counters lent for the call in order: a host
// function called for the first may call the instance again, and the
// borrows of the others must still be the guest's after it.
func (pluginExports) SumCounters(cs []plugin.CounterBorrow) uint32 {
	var n uint32
	for _, c := range cs {
		n += c.Get()
	}
	return n
}

type calcExports struct{ calc.Exports }

func (calcExports) Add(a, b uint32) uint32 { return a + b }
func (calcExports) Shout(s string) string  { return strings.ToUpper(s) + "!" }
