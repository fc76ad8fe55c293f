// Command badimports imports functions no host provides.
package main

//go:wasmimport wasi:frobnicate/widgets@0.2.0 spin
func spin(n uint32) uint32

//go:wasmimport wasi:io/poll@0.2.8 no-such-function
func nope()

func main() {
	spin(1)
	nope()
}
