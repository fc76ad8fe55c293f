package wasi

//go:generate go run ../../cmd/wit2host -guest -wit ../../wit -world wasitls:host/guest -out ./bindings -pkg github.com/wasitls/wasitls/guest/wasi/bindings
