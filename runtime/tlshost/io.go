package tlshost

import (
	"context"
	"errors"
	"fmt"
	"net"

	ioerror "github.com/wasitls/wasitls/bindings/wasi/io/error"
	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// This file is the seam between the wasi:tls host and the runtime's
// wasi:io resources: turning the guest's raw streams into a transport,
// and handing the guest cleartext streams, pollables and errors.

// sourcer is implemented by pollable resources that expose their readiness
// source, so that wasi:io/poll.poll can wait on them together.
type sourcer interface {
	Source() wasiio.Source
}

// pollable is a pollable resource over a wasiio source, a child of parent.
type pollable struct {
	p      *wasiio.Pollable
	parent cabi.Resource
}

var _ poll.Pollable = (*pollable)(nil)

func newPollable(src wasiio.Source, parent cabi.Resource) *pollable {
	return &pollable{p: wasiio.NewPollable(src, parent), parent: parent}
}

func (p *pollable) Ready(context.Context) bool    { return p.p.IsReady() }
func (p *pollable) Block(ctx context.Context)     { p.p.Wait(ctx) }
func (p *pollable) Source() wasiio.Source         { return p.p.Source() }
func (p *pollable) Drop()                         {}
func (p *pollable) ResourceParent() cabi.Resource { return p.parent }

// inputStreamer and outputStreamer are implemented by the runtime's stream
// resources: they expose the wasiio stream behind the resource.
type inputStreamer interface {
	InputStream() *wasiio.InputStream
}

type outputStreamer interface {
	OutputStream() *wasiio.OutputStream
}

// transport turns the guest's raw streams (moved out of its table) into a
// net.Conn for the backend. The connection owns them from now on.
func transportOf(in streams.InputStream, out streams.OutputStream) (*transportConn, error) {
	is, ok1 := in.(inputStreamer)
	os, ok2 := out.(outputStreamer)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("tlshost: streams of type %T and %T cannot carry TLS", in, out)
	}
	c, err := wasiio.Transport(is.InputStream(), os.OutputStream())
	if err != nil {
		return nil, err
	}
	return &transportConn{Conn: c, in: in, out: out}, nil
}

// transportConn is the transport of a TLS connection: the net.Conn over the
// guest's raw streams. Closing it drops the stream resources too.
type transportConn struct {
	net.Conn
	in  streams.InputStream
	out streams.OutputStream
}

func (c *transportConn) Close() error {
	err := c.Conn.Close()
	c.in.Drop()
	c.out.Drop()
	return err
}

// CloseWrite half-closes the transport when it can.
func (c *transportConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("tlshost: the transport cannot close its write side alone")
}

// cleartextInput is the input-stream resource of a TLS connection's
// plaintext, a child of the connection.
type cleartextInput struct {
	s      *wasiio.InputStream
	parent cabi.Resource
}

var _ streams.InputStream = (*cleartextInput)(nil)

func (c *cleartextInput) InputStream() *wasiio.InputStream { return c.s }
func (c *cleartextInput) ResourceParent() cabi.Resource    { return c.parent }
func (c *cleartextInput) Drop()                            { c.s.Close() }

func (c *cleartextInput) Read(_ context.Context, n uint64) ([]byte, error) {
	b, err := c.s.Read(n)
	return b, streamError(err)
}

func (c *cleartextInput) BlockingRead(ctx context.Context, n uint64) ([]byte, error) {
	b, err := c.s.BlockingRead(ctx, n)
	return b, streamError(err)
}

func (c *cleartextInput) Skip(_ context.Context, n uint64) (uint64, error) {
	k, err := c.s.Skip(n)
	return k, streamError(err)
}

func (c *cleartextInput) BlockingSkip(ctx context.Context, n uint64) (uint64, error) {
	k, err := c.s.BlockingSkip(ctx, n)
	return k, streamError(err)
}

func (c *cleartextInput) Subscribe(context.Context) streams.Pollable {
	return newPollable(c.s, c)
}

// cleartextOutput is the output-stream resource of a TLS connection's
// plaintext, a child of the connection. Dropping it sends close_notify.
type cleartextOutput struct {
	s      *wasiio.OutputStream
	parent cabi.Resource
}

var _ streams.OutputStream = (*cleartextOutput)(nil)

func (c *cleartextOutput) OutputStream() *wasiio.OutputStream { return c.s }
func (c *cleartextOutput) ResourceParent() cabi.Resource      { return c.parent }
func (c *cleartextOutput) Drop()                              { c.s.Close() }

func (c *cleartextOutput) CheckWrite(context.Context) (uint64, error) {
	n, err := c.s.CheckWrite()
	return n, streamError(err)
}

func (c *cleartextOutput) Write(_ context.Context, p []byte) error {
	return streamError(c.s.Write(p))
}

func (c *cleartextOutput) BlockingWriteAndFlush(ctx context.Context, p []byte) error {
	return streamError(c.s.BlockingWriteAndFlush(ctx, p))
}

func (c *cleartextOutput) Flush(context.Context) error { return streamError(c.s.Flush()) }

func (c *cleartextOutput) BlockingFlush(ctx context.Context) error {
	return streamError(c.s.BlockingFlush(ctx))
}

func (c *cleartextOutput) Subscribe(context.Context) streams.Pollable {
	return newPollable(c.s, c)
}

func (c *cleartextOutput) WriteZeroes(_ context.Context, n uint64) error {
	return streamError(c.s.WriteZeroes(n))
}

func (c *cleartextOutput) BlockingWriteZeroesAndFlush(ctx context.Context, n uint64) error {
	return streamError(c.s.BlockingWriteZeroesAndFlush(ctx, n))
}

func (c *cleartextOutput) Splice(_ context.Context, src streams.InputStream, n uint64) (uint64, error) {
	is, ok := src.(inputStreamer)
	if !ok {
		return 0, streams.StreamErrorClosed()
	}
	k, err := c.s.Splice(is.InputStream(), n)
	return k, streamError(err)
}

func (c *cleartextOutput) BlockingSplice(ctx context.Context, src streams.InputStream, n uint64) (uint64, error) {
	is, ok := src.(inputStreamer)
	if !ok {
		return 0, streams.StreamErrorClosed()
	}
	k, err := c.s.BlockingSplice(ctx, is.InputStream(), n)
	return k, streamError(err)
}

// streamError maps a wasiio stream error onto the generated stream-error.
func streamError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, wasiio.ErrClosed) {
		return streams.StreamErrorClosed()
	}
	var f *wasiio.StreamFailure
	if errors.As(err, &f) {
		return streams.StreamErrorLastOperationFailed(&ioError{e: f.Resource})
	}
	if errors.Is(err, wasiio.ErrWriteBudget) {
		// WASI makes writing more than check-write granted a guest trap.
		cabi.Trapf("wasi:io/streams#[method]output-stream.write", "%v", err)
	}
	return streams.StreamErrorLastOperationFailed(&ioError{e: wasiio.NewError(err)})
}

// ioError is the wasi:io/error resource.
type ioError struct {
	e *wasiio.Error
}

var _ ioerror.Error = (*ioError)(nil)

func (e *ioError) ToDebugString(context.Context) string { return e.e.DebugString() }
func (e *ioError) Drop()                                {}
