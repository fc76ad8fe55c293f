package runtime

import (
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/filesystem"
	"github.com/wasitls/wasitls/runtime/link"

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
	"github.com/wasitls/wasitls/bindings/wasi/filesystem/preopens"
	filesystemtypes "github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
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

// implementations lists every WASI 0.2 interface this package serves, each
// at the version of its bindings; the Linker serves every compatible
// version from them.
func implementations() []link.Implementation {
	return []link.Implementation{
		{Interface: filesystemtypes.ModuleName, Version: filesystemtypes.Version, Functions: func(m string) []cabi.HostFunc { return filesystemtypes.Functions(filesystem.Host{}, m) }},
		{Interface: preopens.ModuleName, Version: preopens.Version, Functions: func(m string) []cabi.HostFunc { return preopens.Functions(preopensHost{}, m) }},
		{Interface: ioerror.ModuleName, Version: ioerror.Version, Functions: func(m string) []cabi.HostFunc { return ioerror.Functions(struct{}{}, m) }},
		{Interface: poll.ModuleName, Version: poll.Version, Functions: func(m string) []cabi.HostFunc { return poll.Functions(pollHost{}, m) }},
		{Interface: streams.ModuleName, Version: streams.Version, Functions: func(m string) []cabi.HostFunc { return streams.Functions(struct{}{}, m) }},
		{Interface: monotonicclock.ModuleName, Version: monotonicclock.Version, Functions: func(m string) []cabi.HostFunc { return monotonicclock.Functions(monotonicHost{}, m) }},
		{Interface: wallclock.ModuleName, Version: wallclock.Version, Functions: func(m string) []cabi.HostFunc { return wallclock.Functions(wallHost{}, m) }},
		{Interface: timezone.ModuleName, Version: timezone.Version, Functions: func(m string) []cabi.HostFunc { return timezone.Functions(timezoneHost{}, m) }},
		{Interface: random.ModuleName, Version: random.Version, Functions: func(m string) []cabi.HostFunc { return random.Functions(randomHost{}, m) }},
		{Interface: insecure.ModuleName, Version: insecure.Version, Functions: func(m string) []cabi.HostFunc { return insecure.Functions(insecureHost{}, m) }},
		{Interface: insecureseed.ModuleName, Version: insecureseed.Version, Functions: func(m string) []cabi.HostFunc { return insecureseed.Functions(seedHost{}, m) }},
		{Interface: environment.ModuleName, Version: environment.Version, Functions: func(m string) []cabi.HostFunc { return environment.Functions(envHost{}, m) }},
		{Interface: exit.ModuleName, Version: exit.Version, Functions: func(m string) []cabi.HostFunc { return exit.Functions(exitHost{}, m) }},
		{Interface: stdin.ModuleName, Version: stdin.Version, Functions: func(m string) []cabi.HostFunc { return stdin.Functions(stdinHost{}, m) }},
		{Interface: stdout.ModuleName, Version: stdout.Version, Functions: func(m string) []cabi.HostFunc { return stdout.Functions(stdoutHost{}, m) }},
		{Interface: stderr.ModuleName, Version: stderr.Version, Functions: func(m string) []cabi.HostFunc { return stderr.Functions(stderrHost{}, m) }},
		{Interface: terminalinput.ModuleName, Version: terminalinput.Version, Functions: func(m string) []cabi.HostFunc { return terminalinput.Functions(struct{}{}, m) }},
		{Interface: terminaloutput.ModuleName, Version: terminaloutput.Version, Functions: func(m string) []cabi.HostFunc { return terminaloutput.Functions(struct{}{}, m) }},
		{Interface: terminalstdin.ModuleName, Version: terminalstdin.Version, Functions: func(m string) []cabi.HostFunc { return terminalstdin.Functions(terminalHost{}, m) }},
		{Interface: terminalstdout.ModuleName, Version: terminalstdout.Version, Functions: func(m string) []cabi.HostFunc { return terminalstdout.Functions(terminalHost{}, m) }},
		{Interface: terminalstderr.ModuleName, Version: terminalstderr.Version, Functions: func(m string) []cabi.HostFunc { return terminalstderr.Functions(terminalHost{}, m) }},
		{Interface: network.ModuleName, Version: network.Version, Functions: func(m string) []cabi.HostFunc { return network.Functions(networkHost{}, m) }},
		{Interface: instancenetwork.ModuleName, Version: instancenetwork.Version, Functions: func(m string) []cabi.HostFunc { return instancenetwork.Functions(instanceNetworkHost{}, m) }},
		{Interface: tcp.ModuleName, Version: tcp.Version, Functions: func(m string) []cabi.HostFunc { return tcp.Functions(struct{}{}, m) }},
		{Interface: tcpcreatesocket.ModuleName, Version: tcpcreatesocket.Version, Functions: func(m string) []cabi.HostFunc { return tcpcreatesocket.Functions(tcpCreateHost{}, m) }},
		{Interface: ipnamelookup.ModuleName, Version: ipnamelookup.Version, Functions: func(m string) []cabi.HostFunc { return ipnamelookup.Functions(lookupHost{}, m) }},
		{Interface: udp.ModuleName, Version: udp.Version, Functions: func(m string) []cabi.HostFunc { return udp.Functions(struct{}{}, m) }},
		{Interface: udpcreatesocket.ModuleName, Version: udpcreatesocket.Version, Functions: func(m string) []cabi.HostFunc { return udpcreatesocket.Functions(udpCreateHost{}, m) }},
	}
}
