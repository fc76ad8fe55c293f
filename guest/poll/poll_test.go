//go:build !wasip1

package poll_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

func TestPollerInGuest(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/polltest"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	want := "woken 2000\ndeadline true\ncanceled true\ntimer late by less than 200ms true\npending 1\n"
	if out.String() != want {
		t.Fatalf("guest printed\n%s\nwant\n%s", out.String(), want)
	}
}
