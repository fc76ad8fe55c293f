package tlshost

import (
	"context"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/tls/tls"
	"github.com/wasitls/wasitls/cabi"
)

// The future resources. Each wraps a future the handshake goroutine
// resolves; Get runs on the guest's call path and is where results become
// resources (lowering), following option<result<result<T>>>: none while
// pending, some(err) once taken, some(ok(err)) for a failure.

type unit = cabi.Unit

func pendingResult[T any]() (cabi.Result[cabi.Result[T, unit], unit], bool) {
	return cabi.Result[cabi.Result[T, unit], unit]{}, false
}

func taken[T any]() (cabi.Result[cabi.Result[T, unit], unit], bool) {
	return cabi.Err[cabi.Result[T, unit], unit](unit{}), true
}

func failed[T any]() (cabi.Result[cabi.Result[T, unit], unit], bool) {
	return cabi.OK[cabi.Result[T, unit], unit](cabi.Err[T, unit](unit{})), true
}

func ready[T any](v T) (cabi.Result[cabi.Result[T, unit], unit], bool) {
	return cabi.OK[cabi.Result[T, unit], unit](cabi.OK[T, unit](v)), true
}

// futurePublicIdentity is future<option<public-identity>>.
type futurePublicIdentity struct {
	f      *future[*peerChain]
	parent cabi.Resource
	conn   failer
	what   string
}

var _ tls.FuturePublicIdentity = (*futurePublicIdentity)(nil)

func (r *futurePublicIdentity) Subscribe(context.Context) poll.Pollable {
	return newPollable(r.f.source(), r)
}

func (r *futurePublicIdentity) Get(context.Context) (cabi.Result[cabi.Result[cabi.Option[tls.PublicIdentity], unit], unit], bool) {
	chain, err, st := r.f.take()
	switch {
	case st == futurePending:
		return pendingResult[cabi.Option[tls.PublicIdentity]]()
	case st == futureTaken:
		return taken[cabi.Option[tls.PublicIdentity]]()
	case err != nil:
		r.conn.fail(r.what, err)
		return failed[cabi.Option[tls.PublicIdentity]]()
	}
	if id, ok := wrapChain(chain); ok {
		return ready(cabi.Some(id))
	}
	return ready(cabi.None[tls.PublicIdentity]())
}

func (r *futurePublicIdentity) ResourceParent() cabi.Resource { return r.parent }

// Drop lets go of a chain the guest did not take, and of its share of the
// count (peercertbytes.go).
func (r *futurePublicIdentity) Drop() { r.f.abandon() }

// futureClientIdentityRequest is future<option<client-identity-request>>.
type futureClientIdentityRequest struct {
	f      *future[*clientIdentityRequest]
	parent *clientHandshake
}

var _ tls.FutureClientIdentityRequest = (*futureClientIdentityRequest)(nil)

func (r *futureClientIdentityRequest) Subscribe(context.Context) poll.Pollable {
	return newPollable(r.f.source(), r)
}

func (r *futureClientIdentityRequest) Get(context.Context) (cabi.Result[cabi.Result[cabi.Option[tls.ClientIdentityRequest], unit], unit], bool) {
	req, err, st := r.f.take()
	switch {
	case st == futurePending:
		return pendingResult[cabi.Option[tls.ClientIdentityRequest]]()
	case st == futureTaken:
		return taken[cabi.Option[tls.ClientIdentityRequest]]()
	case err != nil:
		r.parent.conn.fail("receive-client-identity-request", err)
		return failed[cabi.Option[tls.ClientIdentityRequest]]()
	case req == nil:
		return ready(cabi.None[tls.ClientIdentityRequest]())
	}
	return ready(cabi.Some[tls.ClientIdentityRequest](&identityRequest{r: req, parent: r.parent}))
}

func (r *futureClientIdentityRequest) ResourceParent() cabi.Resource { return r.parent }

// Drop lets go of a request the guest did not take, and of its copy's
// count.
func (r *futureClientIdentityRequest) Drop() { r.f.abandon() }

// identityRequest is the client-identity-request resource, a child of the
// handshake. Dropping it unanswered offers no certificate.
type identityRequest struct {
	r      *clientIdentityRequest
	parent *clientHandshake
}

func (r *identityRequest) ResourceParent() cabi.Resource { return r.parent }

// Drop offers no certificate if the guest did not answer, and lets go of
// the copy's count.
func (r *identityRequest) Drop() {
	r.r.Drop()
	r.r.req.put()
}

// futureClientHello is future<client-hello>.
type futureClientHello struct {
	f      *future[*helloCopy]
	parent *serverHandshake
}

var _ tls.FutureClientHello = (*futureClientHello)(nil)

func (r *futureClientHello) Subscribe(context.Context) poll.Pollable {
	return newPollable(r.f.source(), r)
}

func (r *futureClientHello) Get(context.Context) (cabi.Result[cabi.Result[tls.ClientHello, unit], unit], bool) {
	hello, err, st := r.f.take()
	switch {
	case st == futurePending:
		return pendingResult[tls.ClientHello]()
	case st == futureTaken:
		return taken[tls.ClientHello]()
	case err != nil:
		r.parent.conn.fail("receive-client-hello", err)
		return failed[tls.ClientHello]()
	}
	return ready[tls.ClientHello](&clientHello{h: hello, parent: r.parent})
}

func (r *futureClientHello) ResourceParent() cabi.Resource { return r.parent }

// Drop lets go of a copy the guest did not take, and of its count.
func (r *futureClientHello) Drop() { r.f.abandon() }

// clientHello is the client-hello resource, a child of the handshake.
type clientHello struct {
	h      *helloCopy
	parent *serverHandshake
}

var _ tls.ClientHello = (*clientHello)(nil)

func (c *clientHello) ServerName(context.Context) (string, bool) {
	return c.h.ServerName, c.h.ServerName != ""
}

func (c *clientHello) ALPNIDs(context.Context) []tls.ALPNID {
	ids := c.h.alpn.bytes()
	out := make([]tls.ALPNID, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func (c *clientHello) CipherSuites(context.Context) []tls.CipherSuite {
	return cloneSlice(c.h.CipherSuites)
}

func (c *clientHello) ResourceParent() cabi.Resource { return c.parent }

// Drop lets go of the copy's count.
func (c *clientHello) Drop() { c.h.put() }

// futureStreams is future<tuple<input-stream, output-stream>>, a child of
// the connection.
type futureStreams struct {
	f    *future[backends.Conn]
	conn streamOwner
	what string
}

// streamOwner is the connection the cleartext streams belong to.
type streamOwner interface {
	cabi.Resource
	failer
	host() *Host
	openStreams(c backends.Conn) (*cleartextInput, *cleartextOutput)
}

var _ tls.FutureStreams = (*futureStreams)(nil)

func (r *futureStreams) Subscribe(context.Context) poll.Pollable {
	return newPollable(r.f.source(), r)
}

func (r *futureStreams) Get(context.Context) (cabi.Result[cabi.Result[cabi.Tuple2[tls.InputStream, tls.OutputStream], unit], unit], bool) {
	type pair = cabi.Tuple2[tls.InputStream, tls.OutputStream]
	c, err, st := r.f.take()
	switch {
	case st == futurePending:
		return pendingResult[pair]()
	case st == futureTaken:
		return taken[pair]()
	case err != nil:
		r.conn.fail(r.what, err)
		return failed[pair]()
	}
	in, out := r.conn.openStreams(c)
	return ready(pair{F0: in, F1: out})
}

func (r *futureStreams) ResourceParent() cabi.Resource { return r.conn }
func (r *futureStreams) Drop()                         {}
