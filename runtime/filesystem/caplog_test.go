//go:build unix

package filesystem

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/internal/capreport"
)

// blockingHandler is an embedder's log handler that waits until release
// is closed (a log written to a pipe nobody reads, a slow log service),
// telling entered when a record arrives.
type blockingHandler struct {
	slog.Handler
	entered chan struct{}
	release chan struct{}
}

func (h blockingHandler) Handle(context.Context, slog.Record) error {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-h.release
	return nil
}

func (h blockingHandler) Enabled(context.Context, slog.Level) bool { return true }

// TestCapLogHoldsNoSharedLock: a guest growing one more file than its
// quota remembers, or past its bytes, is refused, and the first refusal
// is logged (the cap report) through the embedder's logger; while that
// logger blocks, another guest of the process creates, writes and removes
// files at once, and removes a file the first guest grew (which gives
// the first guest's quota its bytes back). Before, the refusal was logged
// under the registry lock every guest of the process takes to grow or
// remove a file, or under the first guest's quota lock, which a removal
// of its file by another guest takes: their calls waited as long as the
// log did.
func TestCapLogHoldsNoSharedLock(t *testing.T) {
	for _, over := range []string{"files", "bytes"} {
		t.Run(over, func(t *testing.T) {
			ctx := context.Background()
			h := blockingHandler{Handler: slog.DiscardHandler, entered: make(chan struct{}, 1), release: make(chan struct{})}
			dir := t.TempDir()
			capped, cpre := newFS(t, Preopen{Host: dir, Guest: "/"})
			capped.SetCapReporter(capreport.New(slog.New(h)))
			capped.SetDiskFileLimit(2)
			capped.SetDiskLimit(3*NameBytes + 2)
			rw := types.DescriptorFlagsRead | types.DescriptorFlagsWrite
			for _, name := range []string{"a", "b", "c"} {
				fd, err := cpre[0].OpenAt(ctx, 0, name, types.OpenFlagsCreate, rw)
				if err != nil {
					t.Fatal(err)
				}
				if name == "a" {
					if _, err := fd.(*Descriptor).Write(ctx, []byte("a"), 0); err != nil {
						t.Fatal(err)
					}
				}
				fd.Drop()
			}
			refused := make(chan error, 1)
			go func() {
				b, _ := cpre[0].OpenAt(ctx, 0, "b", 0, rw)
				defer b.Drop()
				data := []byte("b")
				if over == "bytes" {
					data = []byte("bbbb")
				} else if _, err := b.(*Descriptor).Write(ctx, []byte("b"), 0); err != nil {
					refused <- err
					return
				}
				c, _ := cpre[0].OpenAt(ctx, 0, "c", 0, rw)
				defer c.Drop()
				_, err := c.(*Descriptor).Write(ctx, data, 0)
				refused <- err
			}()
			select {
			case <-h.entered:
			case err := <-refused:
				close(h.release)
				t.Fatalf("the growth was answered without a report: %v", err)
			case <-time.After(10 * time.Second):
				close(h.release)
				t.Fatal("the refusal was not logged in 10 s")
			}

			other, opre := newFS(t, Preopen{Host: t.TempDir(), Guest: "/"}, Preopen{Host: dir, Guest: "/shared"})
			done := make(chan error, 1)
			go func() {
				if err := otherGuestWork(ctx, other, opre[0]); err != nil {
					done <- err
					return
				}
				done <- opre[1].UnlinkFileAt(ctx, "a")
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the other guest's work: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("the other guest's file changes still wait after 10 s while one guest's cap report is logged")
				defer func() { <-done }()
			}
			close(h.release)
			if err := <-refused; err == nil {
				t.Error("the growth was not refused")
			}
			if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
				t.Error("the other guest's removal of a did not happen")
			}
		})
	}
}
