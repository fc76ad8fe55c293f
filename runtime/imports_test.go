package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

func TestCheckBinary(t *testing.T) {
	component := []byte("\x00asm\x0d\x00\x01\x00")
	if err := runtime.CheckBinary(component); !errors.Is(err, runtime.ErrComponent) {
		t.Fatalf("component: %v", err)
	} else if !strings.Contains(err.Error(), "GOOS=wasip1") {
		t.Fatalf("component error does not say what to do: %v", err)
	}
	if err := runtime.CheckBinary([]byte("\x00asm\x01\x00\x00\x00")); err != nil {
		t.Fatalf("core module: %v", err)
	}
	if err := runtime.CheckBinary([]byte("#!/bin/sh\n")); err == nil {
		t.Fatal("not wasm accepted")
	}
}

func instantiate(t *testing.T, pkg string) error {
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
	return err
}

func TestMissingImports(t *testing.T) {
	err := instantiate(t, "./testdata/badimports")
	var mi *runtime.MissingImportsError
	if !errors.As(err, &mi) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"wasi:frobnicate/widgets@0.2.0#spin (no such module)", "wasi:io/poll@0.2.8#no-such-function"}
	if strings.Join(mi.Missing, "|") != strings.Join(want, "|") {
		t.Fatalf("missing = %q, want %q", mi.Missing, want)
	}
}

func TestMissingRealloc(t *testing.T) {
	err := instantiate(t, "./testdata/norealloc")
	var mr *runtime.MissingReallocError
	if !errors.As(err, &mr) || len(mr.Functions) != 1 || mr.Functions[0] != "wasi:io/poll@0.2.8#poll" {
		t.Fatalf("err = %v", err)
	}
}
