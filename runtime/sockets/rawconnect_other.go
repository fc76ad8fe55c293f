//go:build !linux

package sockets

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// rawConnect is the connect that a wait with a deadline can leave and
// take up again (rawconnect_linux.go); elsewhere such a wait starts the
// dial on its goroutine.
type rawConnect struct{}

func startRawConnect(Family, *boundTCP, netip.AddrPort) (*rawConnect, error) {
	return nil, errors.ErrUnsupported
}

func connectAtOnce(context.Context, net.Dialer, Family, netip.AddrPort) (net.Conn, *rawConnect, error) {
	return nil, nil, errors.ErrUnsupported
}

func (*rawConnect) wait(time.Time) (net.Conn, error, bool) { return nil, nil, false }
func (*rawConnect) interrupt()                             {}
func (*rawConnect) close()                                 {}
