package sockets_test

import (
	"fmt"

	"github.com/wasitls/wasitls/runtime/sockets"
)

// ExamplePolicy_OnDeny logs what a guest was refused. A guest's lookup of
// a name no rule names fails with access-denied, and the host learns
// which name it was.
func ExamplePolicy_OnDeny() {
	policy := new(sockets.Policy)
	if err := policy.AllowConnect("example.com:443"); err != nil {
		panic(err)
	}
	policy.OnDeny(func(d sockets.Denial) {
		if d.Op == sockets.DenyResolve {
			fmt.Printf("denied: %s %q\n", d.Op, d.Name)
		} else {
			fmt.Printf("denied: %s %s\n", d.Op, d.Addr)
		}
	})

	stack := sockets.NewStack(policy) // one guest's network, as runtime.New makes it
	_, err := stack.Resolve(stack.Network(), "example.org")
	fmt.Println("the guest sees:", err)
	// Output:
	// denied: resolve "example.org"
	// the guest sees: error-code: access-denied
}
