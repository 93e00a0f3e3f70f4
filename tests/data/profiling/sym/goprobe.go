// Fixture Go program: prints its pid and the entry address of a function it spins in.
package main

import (
	"fmt"
	"os"
	"reflect"
	"time"
)

//go:noinline
func opdGoSpin(n *uint64) {
	for {
		*n++
	}
}

func main() {
	var n uint64
	// Never outlive a test that forgot us.
	time.AfterFunc(120*time.Second, func() { os.Exit(3) })
	fmt.Printf("%d %x\n", os.Getpid(), reflect.ValueOf(opdGoSpin).Pointer())
	os.Stdout.Sync()
	opdGoSpin(&n)
}
