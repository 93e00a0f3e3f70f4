// Fixture Go program: prints its pid and the entry address of a function it spins in.
package main

import (
	"fmt"
	"os"
	"reflect"
)

//go:noinline
func opdGoSpin(n *uint64) {
	for {
		*n++
	}
}

func main() {
	var n uint64
	fmt.Printf("%d %x\n", os.Getpid(), reflect.ValueOf(opdGoSpin).Pointer())
	os.Stdout.Sync()
	opdGoSpin(&n)
}
