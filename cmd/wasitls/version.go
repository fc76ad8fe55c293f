package main

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"github.com/wasitls/wasitls/backends"
)

func init() {
	register(&command{
		Name:    "version",
		Summary: "print the versions of wasitls, Go and wazero, and the linked backends",
		Run:     versionCommand,
	})
}

const wazeroPath = "github.com/tetratelabs/wazero"

func versionCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintln(stderr, "usage: wasitls version")
			return nil
		}
		fmt.Fprintln(stderr, "usage: wasitls version (it takes no arguments)")
		return errUsage
	}
	module, wazero := "(unknown)", "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		module = bi.Main.Path + " " + bi.Main.Version
		for _, d := range bi.Deps {
			if d.Path == wazeroPath {
				wazero = d.Version
				if d.Replace != nil {
					wazero += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
	}
	fmt.Fprintf(stdout, "wasitls:  %s\n", module)
	fmt.Fprintf(stdout, "go:       %s %s/%s\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	fmt.Fprintf(stdout, "wazero:   %s\n", wazero)
	fmt.Fprintf(stdout, "backends: %s\n", strings.Join(backends.Names(), ", "))
	return nil
}
