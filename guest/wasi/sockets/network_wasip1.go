//go:build wasip1

package sockets

import (
	instancenetwork "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/instance-network"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// Network is the resource wasi:sockets/network.network: an opaque capability
// to use a network. Drop drops the handle.
type Network = network.Network

// NetworkErrorCode classifies a wasi:io error as a socket error code, when it
// is one.
//
//	network-error-code: func(err: borrow<error>) -> option<error-code>;
func NetworkErrorCode(err io.Error) (ErrorCode, bool) {
	c, ok := network.NetworkErrorCode(err.Borrow())
	return ErrorCode(c), ok
}

// InstanceNetwork returns the default network of the instance.
//
//	instance-network: func() -> network;
func InstanceNetwork() Network { return instancenetwork.InstanceNetwork() }
