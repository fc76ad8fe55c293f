// Command wit2host generates typed Go host bindings for wazero from WIT.
//
// Usage:
//
//	wit2host -wit ./wit -world ns:pkg/world -out ./bindings -pkg example.com/m/bindings
//
// For every interface the world imports it writes one Go package below
// -out: Go types for the WIT types, a Host interface and one interface per
// resource for the host to implement, and a Register function that serves
// them to guests through wazero. For every interface the world exports it
// writes the types and an Exports type, bound to a guest by Bind, whose
// methods call the guest's exports. See docs/wit2host.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wasitls/wasitls/generator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("wit2host", flag.ContinueOnError)
	fl.SetOutput(stderr)
	witPath := fl.String("wit", "./wit", "WIT `path`: a .wit file, or a directory of .wit files with its dependencies in deps/")
	world := fl.String("world", "", "the `world` whose imports and exports to generate: name, namespace:package/name, or with @version (required)")
	out := fl.String("out", ".", "output `directory`; each interface goes to <dir>/<namespace>/<package>/<interface>/")
	pkg := fl.String("pkg", "", "Go import `path` of the output directory, such as example.com/m/bindings; in a Go module, the one go.mod gives it (required)")
	guest := fl.Bool("guest", false, "generate Go guest bindings for GOOS=wasip1 (//go:wasmimport and //go:wasmexport) instead of host bindings")
	dry := fl.Bool("n", false, "dry run: print the files that would be written, write nothing")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: wit2host [-guest] [-n] -wit path -world world -out dir -pkg importpath\n\n")
		fmt.Fprintf(stderr, "wit2host generates Go host bindings for wazero from the imports and exports of a WIT world,\n")
		fmt.Fprintf(stderr, "or with -guest the Go bindings of a GOOS=wasip1 guest. See docs/wit2host.md in\n")
		fmt.Fprintf(stderr, "github.com/wasitls/wasitls, \"A plugin, end to end\", for a host and a guest of one world.\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "wit2host: unexpected arguments %q\n", fl.Args())
		fl.Usage()
		return 2
	}
	if *world == "" || *pkg == "" {
		fmt.Fprintln(stderr, "wit2host: -world and -pkg are required")
		fl.Usage()
		return 2
	}
	res, err := generator.Load(*witPath)
	if err != nil {
		fmt.Fprintln(stderr, "wit2host:", err)
		return 1
	}
	files, err := generator.Generate(res, generator.Options{World: *world, Package: *pkg, Guest: *guest})
	if err != nil {
		fmt.Fprintln(stderr, "wit2host:", err)
		return 1
	}
	if err := checkPkg(*out, *pkg); err != nil {
		fmt.Fprintln(stderr, "wit2host:", err)
		return 1
	}
	if *dry {
		for _, f := range files {
			fmt.Fprintln(stdout, f.Path)
		}
		return 0
	}
	if err := generator.Write(*out, files); err != nil {
		fmt.Fprintln(stderr, "wit2host:", err)
		return 1
	}
	return 0
}
