// W1: spawn 1,000,000 goroutines that each increment a counter; wait for all.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gorobench/benchsize"
)

var goroutines = benchsize.Scaled(1000000)

func main() {
	var counter int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func() {
			atomic.AddInt64(&counter, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if atomic.LoadInt64(&counter) != int64(goroutines) {
		fmt.Fprintln(os.Stderr, "W1: wrong count")
		os.Exit(1)
	}
	fmt.Printf("RESULT W1 go-%d %d 0\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds())
}
