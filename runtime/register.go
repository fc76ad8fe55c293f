package runtime

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/bindings/wasi/cli/environment"
	"github.com/wasitls/wasitls/bindings/wasi/cli/exit"
	"github.com/wasitls/wasitls/bindings/wasi/cli/stderr"
	"github.com/wasitls/wasitls/bindings/wasi/cli/stdin"
	"github.com/wasitls/wasitls/bindings/wasi/cli/stdout"
	terminalinput "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-input"
	terminaloutput "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-output"
	terminalstderr "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-stderr"
	terminalstdin "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-stdin"
	terminalstdout "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-stdout"
	monotonicclock "github.com/wasitls/wasitls/bindings/wasi/clocks/monotonic-clock"
	"github.com/wasitls/wasitls/bindings/wasi/clocks/timezone"
	wallclock "github.com/wasitls/wasitls/bindings/wasi/clocks/wall-clock"
	ioerror "github.com/wasitls/wasitls/bindings/wasi/io/error"
	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/bindings/wasi/random/insecure"
	insecureseed "github.com/wasitls/wasitls/bindings/wasi/random/insecure-seed"
	"github.com/wasitls/wasitls/bindings/wasi/random/random"
	instancenetwork "github.com/wasitls/wasitls/bindings/wasi/sockets/instance-network"
	ipnamelookup "github.com/wasitls/wasitls/bindings/wasi/sockets/ip-name-lookup"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	tcpcreatesocket "github.com/wasitls/wasitls/bindings/wasi/sockets/tcp-create-socket"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	udpcreatesocket "github.com/wasitls/wasitls/bindings/wasi/sockets/udp-create-socket"
)

// registration is one generated interface and how to register it.
type registration struct {
	module   string
	register func(ctx context.Context, r wazero.Runtime, versions ...string) error
}

// registrations lists every WASI 0.2 interface this package serves.
var registrations = []registration{
	{ioerror.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return ioerror.Register(ctx, r, struct{}{}, v...)
	}},
	{poll.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return poll.Register(ctx, r, pollHost{}, v...)
	}},
	{streams.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return streams.Register(ctx, r, struct{}{}, v...)
	}},
	{monotonicclock.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return monotonicclock.Register(ctx, r, monotonicHost{}, v...)
	}},
	{wallclock.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return wallclock.Register(ctx, r, wallHost{}, v...)
	}},
	{timezone.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return timezone.Register(ctx, r, timezoneHost{}, v...)
	}},
	{random.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return random.Register(ctx, r, randomHost{}, v...)
	}},
	{insecure.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return insecure.Register(ctx, r, insecureHost{}, v...)
	}},
	{insecureseed.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return insecureseed.Register(ctx, r, seedHost{}, v...)
	}},
	{environment.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return environment.Register(ctx, r, envHost{}, v...)
	}},
	{exit.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return exit.Register(ctx, r, exitHost{}, v...)
	}},
	{stdin.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return stdin.Register(ctx, r, stdinHost{}, v...)
	}},
	{stdout.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return stdout.Register(ctx, r, stdoutHost{}, v...)
	}},
	{stderr.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return stderr.Register(ctx, r, stderrHost{}, v...)
	}},
	{terminalinput.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return terminalinput.Register(ctx, r, struct{}{}, v...)
	}},
	{terminaloutput.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return terminaloutput.Register(ctx, r, struct{}{}, v...)
	}},
	{terminalstdin.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return terminalstdin.Register(ctx, r, terminalHost{}, v...)
	}},
	{terminalstdout.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return terminalstdout.Register(ctx, r, terminalHost{}, v...)
	}},
	{terminalstderr.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return terminalstderr.Register(ctx, r, terminalHost{}, v...)
	}},
	{network.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return network.Register(ctx, r, networkHost{}, v...)
	}},
	{instancenetwork.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return instancenetwork.Register(ctx, r, instanceNetworkHost{}, v...)
	}},
	{tcp.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return tcp.Register(ctx, r, struct{}{}, v...)
	}},
	{tcpcreatesocket.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return tcpcreatesocket.Register(ctx, r, tcpCreateHost{}, v...)
	}},
	{ipnamelookup.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return ipnamelookup.Register(ctx, r, lookupHost{}, v...)
	}},
	{udp.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return udp.Register(ctx, r, struct{}{}, v...)
	}},
	{udpcreatesocket.ModuleName, func(ctx context.Context, r wazero.Runtime, v ...string) error {
		return udpcreatesocket.Register(ctx, r, udpCreateHost{}, v...)
	}},
}

// registerWASI registers every interface under every version in Versions.
func registerWASI(ctx context.Context, r wazero.Runtime) error {
	for _, reg := range registrations {
		if err := reg.register(ctx, r, Versions...); err != nil {
			return fmt.Errorf("runtime: %s: %w", reg.module, err)
		}
	}
	return nil
}
