package runtime

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestQuotaRefusalPerCall: a wasi_snapshot_preview1 call answers EDQUOT
// for EIO only when its own change was refused for the disk quota. A
// refusal in a call that answered something else (ENOENT here), or in a
// call of a function not wrapped for the quota, is not carried over to a
// later call: that call's EIO, from the host, stays EIO. Before, the
// refusal was a flag the guest's file system kept until the next wrapped
// call took it, so the later call's EIO read as EDQUOT.
func TestQuotaRefusalPerCall(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	defer r.Close(ctx)
	rt, err := New(ctx, r, Config{Limits: Limits{DiskBytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	g, gctx, err := rt.newGuest(ctx, ModuleConfig{Dirs: []Dir{{Host: t.TempDir(), Guest: "/rw"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.close(ctx)
	mount := g.state.fs.Preview1()[0]
	// refuse makes a directory, which a quota of one byte refuses (EIO
	// from the file system), and answers errno.
	refuse := func(errno uint64) api.GoModuleFunction {
		return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			if e := mount.Mkdir("d", 0o777); e == 0 {
				t.Fatal("a directory made under a quota of one byte")
			}
			stack[0] = errno
		})
	}
	hostEIO := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) { stack[0] = errnoIO })
	stack := make([]uint64, 4)

	(&guestAware{fn: refuse(errnoIO), quota: true}).Call(gctx, nil, stack)
	if stack[0] != errnoDquot {
		t.Fatalf("a refused call answered %d, want EDQUOT (%d)", stack[0], errnoDquot)
	}
	for _, c := range []struct {
		name string
		call *guestAware
	}{
		{"a refused call that answered ENOENT", &guestAware{fn: refuse(44), quota: true}},
		{"a refusal in a function not wrapped for the quota", &guestAware{fn: refuse(errnoIO), quota: false}},
	} {
		c.call.Call(gctx, nil, stack)
		(&guestAware{fn: hostEIO, quota: true}).Call(gctx, nil, stack)
		if stack[0] != errnoIO {
			t.Errorf("after %s, a later call's EIO answered %d, want EIO (%d)", c.name, stack[0], errnoIO)
		}
	}
}
