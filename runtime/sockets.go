package runtime

import (
	"context"

	ioerror "github.com/wasitls/wasitls/bindings/wasi/io/error"
	ipnamelookup "github.com/wasitls/wasitls/bindings/wasi/sockets/ip-name-lookup"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// networkHost serves wasi:sockets/network's network-error-code.
type networkHost struct{}

// NetworkErrorCode classifies a stream error resource that came from a
// socket (or any Go network error).
func (networkHost) NetworkErrorCode(ctx context.Context, err ioerror.Error) (network.ErrorCode, bool) {
	e, ok := err.(*wasiio.Error)
	if !ok {
		return 0, false
	}
	return sockets.CodeOf(e.Err)
}

// instanceNetworkHost serves wasi:sockets/instance-network.
type instanceNetworkHost struct{}

func (instanceNetworkHost) InstanceNetwork(ctx context.Context) network.Network {
	return stateFrom(ctx, "wasi:sockets/instance-network#instance-network").stack.Network()
}

// tcpCreateHost serves wasi:sockets/tcp-create-socket.
type tcpCreateHost struct{}

func (tcpCreateHost) CreateTCPSocket(ctx context.Context, family network.IPAddressFamily) (tcp.TCPSocket, error) {
	s, err := stateFrom(ctx, "wasi:sockets/tcp-create-socket#create-tcp-socket").stack.NewTCPSocket(family)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// lookupHost serves wasi:sockets/ip-name-lookup.
type lookupHost struct{}

func (lookupHost) ResolveAddresses(ctx context.Context, nw network.Network, name string) (ipnamelookup.ResolveAddressStream, error) {
	st := stateFrom(ctx, "wasi:sockets/ip-name-lookup#resolve-addresses")
	r, err := st.stack.Resolve(nw, name)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// udpCreateHost serves wasi:sockets/udp-create-socket.
type udpCreateHost struct{}

func (udpCreateHost) CreateUDPSocket(ctx context.Context, family network.IPAddressFamily) (udp.UDPSocket, error) {
	s, err := stateFrom(ctx, "wasi:sockets/udp-create-socket#create-udp-socket").stack.NewUDPSocket(family)
	if err != nil {
		return nil, err
	}
	return s, nil
}
