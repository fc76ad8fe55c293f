// Command spin computes forever without calling the host, once it has
// printed "spinning": only a stop of its computation ends it.
package main

import "fmt"

var n int

func main() {
	fmt.Println("spinning")
	for {
		n++
	}
}
