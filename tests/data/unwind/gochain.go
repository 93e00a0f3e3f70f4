// Unwind fixture: a stripped Go program (built with -ldflags="-s -w") whose main.goLeaf
// loop is called through main.goA -> main.goB -> main.goC. Go keeps frame pointers and
// the unwinder walks Go code by them; names come from .gopclntab. Usage: gochain [seconds].
package main

import (
	"os"
	"strconv"
	"time"
)

var sink uint64

//go:noinline
func goLeaf(d time.Time) {
	for time.Now().Before(d) {
		for i := 0; i < 100000; i++ {
			sink = sink*6364136223846793005 + 1442695040888963407
		}
	}
}

//go:noinline
func goC(d time.Time) { goLeaf(d); sink++ }

//go:noinline
func goB(d time.Time) { goC(d); sink++ }

//go:noinline
func goA(d time.Time) { goB(d); sink++ }

func main() {
	secs := 1.0
	if len(os.Args) > 1 {
		secs, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	goA(time.Now().Add(time.Duration(secs * float64(time.Second))))
}
