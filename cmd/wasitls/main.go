// Command wasitls runs WebAssembly guests with WASI 0.2 sockets and TLS.
//
// Usage:
//
//	wasitls <command> [flags] [arguments]
//
// Each command lives in its own file and registers itself from init with
// register, so commands are added without editing this file. Run
// "wasitls help" for the list and "wasitls <command> -h" for a command's
// flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"

	"github.com/tetratelabs/wazero/sys"
)

// A command is one subcommand.
type command struct {
	// Name is the word after "wasitls".
	Name string
	// Summary is one line for the command list.
	Summary string
	// Run runs the command with the arguments after its name. Output goes
	// to stdout and stderr; a *sys.ExitError sets the process exit code.
	Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the registry, filled from init functions.
var commands = map[string]*command{}

// register adds c to the registry; a duplicate name is a programming error.
func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("wasitls: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the command named by args[0] and returns the exit code.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		// Asked-for help goes to stdout, so it can be paged or grepped.
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		c, ok := commands[args[1]]
		if !ok {
			fmt.Fprintf(stderr, "wasitls: no help for unknown command %q\n", args[1])
			usage(stderr)
			return 2
		}
		return report(stderr, c.Run(ctx, []string{"-h"}, stdout, stdout))
	}
	name := args[0]
	if name == "-version" || name == "--version" {
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "wasitls: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return report(stderr, c.Run(ctx, args[1:], stdout, stderr))
}

// errUsage marks a usage error already explained by the flag package.
var errUsage = errors.New("usage")

// flagSetHook, when not nil, is given each command's flag set before it is
// parsed; the package's tests set it to walk every command's flags.
var flagSetHook func(*flag.FlagSet)

// parseFlags parses a command's flags. -h prints fs.Usage; a mistake (an
// unknown flag, a bad value) prints the flag package's one-line reason and
// how to list the flags, not every flag, which would scroll the reason
// away. When done, the command returns err at once.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if flagSetHook != nil {
		flagSetHook(fs)
	}
	usage := fs.Usage
	fs.Usage = func() {}
	err = fs.Parse(args)
	fs.Usage = usage
	switch {
	case err == flag.ErrHelp:
		usage()
		return true, nil
	case err != nil:
		fmt.Fprintf(fs.Output(), "Run \"wasitls %s -h\" for its flags.\n", fs.Name())
		return true, errUsage
	}
	return false, nil
}

func report(stderr io.Writer, err error) int {
	var ee *sys.ExitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ee):
		if ee.ExitCode() == sys.ExitCodeContextCanceled {
			fmt.Fprintln(stderr, "wasitls: interrupted")
			return 130
		}
		return int(ee.ExitCode() & 0xff)
	}
	fmt.Fprintf(stderr, "wasitls: %v\n", err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: wasitls <command> [flags] [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun \"wasitls help <command>\" for a command's flags.")
}
