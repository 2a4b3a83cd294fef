// W7 (scheduler reference, not a raw switch): two goroutines hand the
// processor to each other with runtime.Gosched, 1,000,000 times each. Only
// meaningful with GOMAXPROCS=1. The extra metric is ns per yield, one
// goroutine to the other (one pass through Go's scheduler).
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"gorobench/benchsize"
)

var yields = benchsize.Scaled(1000000)

func main() {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < yields; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("RESULT W7 go-gosched-%d %d %.2f\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds(),
		float64(elapsed.Nanoseconds())/float64(2*yields))
}
