package conformance

import (
	"bytes"
	"reflect"
	"unsafe"

	"github.com/wasitls/wasitls/backends"
)

// testWrapperForwards checks a backend that wraps another: its
// connections answer every optional interface of a Conn
// ([backends.NonblockingConn], [backends.ApplicationDataCounter],
// [backends.KeyingMaterialExporter]) as the connections they hold do. The
// host finds them by type assertion, so a wrapper that embeds a bare
// backends.Conn loses them without another symptom: the accounting of a
// post-handshake authentication, the inline streams, the exporter. The
// held connection is the one Unwrap returns (backends.WrappedConn has
// it), else the first field, exported or not, of the connection's struct
// (or of a struct it embeds) that holds a backends.Conn. A backend whose
// connections hold none is no wrapper, and the case is skipped.
func testWrapperForwards(e *env) {
	p := e.mustConnect(e.pki.clientConfig("a.test"), e.pki.serverConfig(e.pki.serverA))
	e.exchange(p) // application data read on both sides, for the counters
	wrappers := 0
	for _, s := range []struct {
		side string
		conn backends.Conn
	}{{"client", p.client}, {"server", p.server}} {
		inner := heldConn(s.conn)
		if inner == nil {
			continue
		}
		wrappers++
		checkForwarded(e, s.side, s.conn, inner)
	}
	if wrappers == 0 {
		e.t.Skipf("conformance: %s: its connections hold no backends.Conn: not a wrapper", e.b.Name())
	}
}

// checkForwarded fails e if outer does not answer an optional interface
// of inner as inner does.
func checkForwarded(e *env, side string, outer, inner backends.Conn) {
	e.t.Helper()
	checkAnswers(e, side, outer, inner, "over the host's transport the host falls back to a goroutine per stream",
		backends.NonblockingConn.NonblockingTransport)
	checkAnswers(e, side, outer, inner, "a client's data during post-handshake authentication counts as its chain",
		backends.ApplicationDataCounter.ApplicationDataRead)
	if in, ok := inner.(backends.KeyingMaterialExporter); ok {
		const label = "EXPORTER-conformance"
		want, werr := in.ExportKeyingMaterial(label, nil, 32)
		out, ok := outer.(backends.KeyingMaterialExporter)
		if !ok {
			e.t.Errorf("%s: %T is no KeyingMaterialExporter, but the %T it wraps is: the guest's exporter fails (%s)", side, outer, inner, wrapperFix)
			return
		}
		got, gerr := out.ExportKeyingMaterial(label, nil, 32)
		if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
			e.t.Errorf("%s: %T: ExportKeyingMaterial = %x, %v; the %T it wraps exports %x, %v", side, outer, got, gerr, inner, want, werr)
		}
	}
}

const wrapperFix = "embed backends.WrappedConn instead of backends.Conn"

// checkAnswers fails e if inner is an I, an optional interface of one
// method (method, its method expression), and outer is not one or answers
// it differently; lost says what the host loses without it.
func checkAnswers[I any, V comparable](e *env, side string, outer, inner backends.Conn, lost string, method func(I) V) {
	e.t.Helper()
	in, ok := inner.(I)
	if !ok {
		return
	}
	typ := reflect.TypeFor[I]()
	out, ok := outer.(I)
	switch {
	case !ok:
		e.t.Errorf("%s: %T is no %s, but the %T it wraps is: %s (%s)", side, outer, typ.Name(), inner, lost, wrapperFix)
	case method(out) != method(in):
		e.t.Errorf("%s: %T: %s = %v, but the %T it wraps answers %v", side, outer, typ.Method(0).Name, method(out), inner, method(in))
	}
}

// heldConn is the connection c wraps, nil if it holds none.
func heldConn(c backends.Conn) backends.Conn {
	if u, ok := c.(interface{ Unwrap() backends.Conn }); ok {
		return u.Unwrap()
	}
	return held[backends.Conn](c)
}

// heldBackend is the backend b wraps, nil if it holds none.
func heldBackend(b backends.Backend) backends.Backend {
	if u, ok := b.(interface{ Unwrap() backends.Backend }); ok {
		return u.Unwrap()
	}
	return held[backends.Backend](b)
}

// held is what the first field of x's struct (x or what x points to), or
// of a struct it embeds, holds of a T; nil if none holds one.
//
// A wrapper from another package need not export what it holds, nor have
// an Unwrap method, so the suite looks in its fields, unexported ones
// too: reflect refuses Interface on those, and heldField reads them
// through unsafe (reflect.NewAt on the field's address), only to read.
// No shape panics: x nil, a nil pointer or no struct holds nothing; nil
// fields are skipped; a struct held by value is copied to have an
// address; an embedded field is descended into when it is a struct or a
// non-nil pointer to one (an embedded interface is only matched itself,
// whatever it holds), at most two levels down, which also ends a cycle of
// embedded pointers.
func held[T comparable](x any) T {
	v := reflect.ValueOf(x)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			var none T
			return none
		}
		v = v.Elem()
	}
	return heldField[T](v, 0)
}

// heldField is held's search in the struct v, depth levels of embedding
// below x's own.
func heldField[T comparable](v reflect.Value, depth int) T {
	var none T
	if v.Kind() != reflect.Struct || depth > 2 {
		return none
	}
	if !v.CanAddr() { // a struct held by value: copied, to read its unexported fields
		addr := reflect.New(v.Type()).Elem()
		addr.Set(v)
		v = addr
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanInterface() { // unexported, or reached through an unexported embedded struct
			f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		}
		switch f.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
			if f.IsNil() {
				continue
			}
		}
		if h, ok := f.Interface().(T); ok {
			return h
		}
		if v.Type().Field(i).Anonymous {
			if h := heldField[T](reflect.Indirect(f), depth+1); h != none {
				return h
			}
		}
	}
	return none
}
