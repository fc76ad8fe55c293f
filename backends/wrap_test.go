package backends_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// connInterfaces are the optional interfaces of a Conn, which the host
// finds by type assertion on the connection and WrappedConn forwards.
var connInterfaces = map[string]reflect.Type{
	"NonblockingConn":        reflect.TypeFor[backends.NonblockingConn](),
	"ApplicationDataCounter": reflect.TypeFor[backends.ApplicationDataCounter](),
	"KeyingMaterialExporter": reflect.TypeFor[backends.KeyingMaterialExporter](),
}

// otherInterfaces are the package's other interfaces: the contract
// itself, and the transport's optional interfaces (the host's transport
// has them, a Conn does not).
var otherInterfaces = []string{
	"Backend", "Conn", "Describer", "SessionCache",
	"PeerHeapCounter", "PeerBacklogCounter", "ReadAheadCounter", "ReadAheadNotifier",
}

// TestWrappedConnForwardsEveryOptionalInterface keeps WrappedConn in step
// with the package: every interface the package declares is either one
// of a Conn's optional interfaces, which WrappedConn implements, or named
// in otherInterfaces. A new optional interface fails here until it is
// classified (and, for a Conn's, forwarded).
func TestWrappedConnForwardsEveryOptionalInterface(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var declared []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.IsExported() {
				if _, ok := ts.Type.(*ast.InterfaceType); ok {
					declared = append(declared, ts.Name.Name)
				}
			}
			return true
		})
	}
	if len(declared) < len(connInterfaces)+len(otherInterfaces) {
		t.Fatalf("found %d interfaces in the package, want at least %d: %v", len(declared), len(connInterfaces)+len(otherInterfaces), declared)
	}
	wrapped := reflect.TypeFor[backends.WrappedConn]()
	for _, name := range declared {
		if typ, ok := connInterfaces[name]; ok {
			if !wrapped.Implements(typ) {
				t.Errorf("WrappedConn does not implement backends.%s", name)
			}
			continue
		}
		if !slices.Contains(otherInterfaces, name) {
			t.Errorf("backends.%s is not classified: if a Conn may implement it, WrappedConn must forward it", name)
		}
	}
}

// bareConn is a Conn with none of the optional interfaces.
type bareConn struct{ backends.Conn }

// fullConn has them all.
type fullConn struct{ bareConn }

func (fullConn) NonblockingTransport() bool { return true }
func (fullConn) ApplicationDataRead() int64 { return 42 }
func (fullConn) ExportKeyingMaterial(label string, _ []byte, length int) ([]byte, error) {
	return []byte(label)[:length], nil
}

// overriding decorates Handshake, as a wrapper does.
type overriding struct {
	backends.WrappedConn
	handshakes int
}

func (o *overriding) Handshake(ctx context.Context) error {
	o.handshakes++
	return nil
}

func TestWrappedConnForwards(t *testing.T) {
	var c backends.Conn = &overriding{WrappedConn: backends.WrappedConn{Conn: fullConn{}}}
	if err := c.Handshake(context.Background()); err != nil || c.(*overriding).handshakes != 1 {
		t.Fatalf("the override did not run: %v", err)
	}
	if nc, ok := c.(backends.NonblockingConn); !ok || !nc.NonblockingTransport() {
		t.Errorf("NonblockingTransport not forwarded")
	}
	if ac, ok := c.(backends.ApplicationDataCounter); !ok || ac.ApplicationDataRead() != 42 {
		t.Errorf("ApplicationDataRead not forwarded")
	}
	if x, ok := c.(backends.KeyingMaterialExporter); !ok {
		t.Errorf("ExportKeyingMaterial not forwarded")
	} else if out, err := x.ExportKeyingMaterial("abc", nil, 2); err != nil || string(out) != "ab" {
		t.Errorf("ExportKeyingMaterial = %q, %v; want \"ab\"", out, err)
	}
	if got := c.(interface{ Unwrap() backends.Conn }).Unwrap(); got != (fullConn{}) {
		t.Errorf("Unwrap = %v, want the wrapped Conn", got)
	}
}

// TestWrappedConnAnswersForALackingConn: over a Conn without the optional
// interfaces, WrappedConn answers what the host assumes of such a Conn.
func TestWrappedConnAnswersForALackingConn(t *testing.T) {
	w := backends.WrappedConn{Conn: bareConn{}}
	if w.NonblockingTransport() {
		t.Errorf("NonblockingTransport = true over a blocking Conn")
	}
	if n := w.ApplicationDataRead(); n != 0 {
		t.Errorf("ApplicationDataRead = %d over a Conn that counts nothing", n)
	}
	if _, err := w.ExportKeyingMaterial("abc", nil, 2); !errors.Is(err, backends.ErrNotSupported) {
		t.Errorf("ExportKeyingMaterial error = %v, want ErrNotSupported", err)
	}
}

// readConn is a Conn whose Read and ApplicationDataRead cost nothing.
type readConn struct{ bareConn }

func (readConn) Read(p []byte) (int, error) { return len(p), nil }
func (readConn) ApplicationDataRead() int64 { return 1 }

// bareWrapper is a wrapper on a bare Conn that forwards
// ApplicationDataRead by hand.
type bareWrapper struct{ backends.Conn }

func (w bareWrapper) ApplicationDataRead() int64 {
	return w.Conn.(backends.ApplicationDataCounter).ApplicationDataRead()
}

// BenchmarkWrappedConn compares a call through a wrapper on WrappedConn
// with one through a wrapper on a bare Conn that forwards by hand: Read,
// the host's per-call path, and ApplicationDataRead.
func BenchmarkWrappedConn(b *testing.B) {
	buf := make([]byte, 16)
	for _, c := range []struct {
		name string
		conn backends.Conn
	}{
		{"bare", &bareWrapper{Conn: readConn{}}},
		{"wrapped", &overriding{WrappedConn: backends.WrappedConn{Conn: readConn{}}}},
	} {
		b.Run("Read/"+c.name, func(b *testing.B) {
			for b.Loop() {
				c.conn.Read(buf)
			}
		})
		b.Run("ApplicationDataRead/"+c.name, func(b *testing.B) {
			ac := c.conn.(backends.ApplicationDataCounter)
			for b.Loop() {
				ac.ApplicationDataRead()
			}
		})
	}
}
