module github.com/wasitls/wasitls

go 1.26.8

require (
	github.com/cloudflare/circl v1.6.5
	github.com/dave/jennifer v1.7.1
	github.com/tetratelabs/wazero v1.12.0
	go.bytecodealliance.org v0.7.0
	golang.org/x/crypto v0.59.0
	golang.org/x/net v0.63.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/coreos/go-semver v0.3.1 // indirect
	golang.org/x/text v0.44.0 // indirect
)
