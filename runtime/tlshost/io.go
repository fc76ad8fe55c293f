package tlshost

import (
	"errors"
	"net"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// This file is the seam between the wasi:tls host and the runtime's wasi:io
// resources: turning the guest's raw streams into a transport, and handing
// the guest cleartext streams whose parent is the TLS connection.

// newPollable returns a pollable over src, a child of parent.
func newPollable(src wasiio.Source, parent cabi.Resource) *wasiio.Pollable {
	return wasiio.NewPollable(src, parent)
}

// transportOf turns the guest's raw streams (moved out of its table) into a
// net.Conn for the backend. The connection owns them from now on: closing
// it drops both.
func transportOf(in streams.InputStream, out streams.OutputStream) (net.Conn, error) {
	// TLS over the cleartext of another TLS connection (tunnelling) works
	// on the underlying streams.
	if c, ok := in.(*cleartextInput); ok {
		in = c.Input
	}
	if c, ok := out.(*cleartextOutput); ok {
		out = c.OutputStream
	}
	return wasiio.Transport(in, out)
}

// cleartextInput is the input-stream resource of a TLS connection's
// plaintext, a child of the connection.
type cleartextInput struct {
	wasiio.Input // inline over a socket's transport, otherwise read ahead
	parent       cabi.Resource
}

var _ streams.InputStream = (*cleartextInput)(nil)

func (c *cleartextInput) ResourceParent() cabi.Resource { return c.parent }

// inline returns the stream when it reads on the guest's calls; c may be
// nil.
func (c *cleartextInput) inline() (*wasiio.InlineInputStream, bool) {
	if c == nil {
		return nil, false
	}
	il, ok := c.Input.(*wasiio.InlineInputStream)
	return il, ok
}

// cleartextOutput is the output-stream resource of a TLS connection's
// plaintext, a child of the connection. Dropping it sends close_notify.
type cleartextOutput struct {
	*wasiio.OutputStream
	parent cabi.Resource
}

var _ streams.OutputStream = (*cleartextOutput)(nil)

func (c *cleartextOutput) ResourceParent() cabi.Resource { return c.parent }

// errNoStreams is returned by close-output before the handshake finished.
var errNoStreams = errors.New("tlshost: close-output: the handshake has not produced streams yet")

// blocksOnlyInTransport reports whether conn over transport may run its
// handshake (see driver.startLocked) and its CloseWrite and Close (see
// boundedInline) on the guest's call: the backend blocks only in the
// transport's Read and Write (backends.NonblockingConn), which the host
// interrupts when it gives up, and the transport is a socket's, whose
// writes never wait for the peer.
func blocksOnlyInTransport(conn backends.Conn, transport net.Conn) bool {
	nc, ok := conn.(backends.NonblockingConn)
	_, nb := transport.(wasiio.NonblockingTransport)
	return ok && nb && nc.NonblockingTransport()
}
