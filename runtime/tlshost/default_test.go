package tlshost

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// The default backend needs no import by the embedder, and linking the
// wasi:tls host does not link CIRCL.
func TestDefaultBackendLinked(t *testing.T) {
	if _, err := backends.ByName(DefaultBackend); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/wasitls/wasitls/runtime/tlshost").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "github.com/cloudflare/circl") {
		t.Error("runtime/tlshost depends on CIRCL; only importing backends/circl-pq may link it")
	}
}

// A backend name that is not registered, most often one whose package the
// embedder did not import, is an error that says how a backend is linked.
func TestUnknownBackendSaysHowToLink(t *testing.T) {
	_, err := NewHost(Config{BackendName: "no-such-backend"})
	if err == nil || !strings.Contains(err.Error(), `no backend named "no-such-backend"`) ||
		!strings.Contains(err.Error(), `linked by importing its package, as in import _ "github.com/wasitls/wasitls/backends/circl-pq"`) {
		t.Fatalf("NewHost: %v; want the missing name and how a backend is linked", err)
	}
}
