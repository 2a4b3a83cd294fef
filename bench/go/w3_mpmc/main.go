// W3: MPMC, one channel of capacity 1024, 4 producers × 1,000,000 ints,
// 4 consumers receiving until the channel is closed.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"gorobench/benchsize"
)

const (
	capacity  = 1024
	producers = 4
	consumers = 4
)

var items = benchsize.Scaled(1000000)

func main() {
	ch := make(chan int, capacity)
	var sent, received sync.WaitGroup
	sums := make([]int64, consumers)
	start := time.Now()
	sent.Add(producers)
	for p := 0; p < producers; p++ {
		go func() {
			for i := 0; i < items; i++ {
				ch <- i
			}
			sent.Done()
		}()
	}
	received.Add(consumers)
	for c := 0; c < consumers; c++ {
		go func(c int) {
			var sum int64
			for v := range ch {
				sum += int64(v)
			}
			sums[c] = sum
			received.Done()
		}(c)
	}
	sent.Wait()
	close(ch)
	received.Wait()
	elapsed := time.Since(start)
	var total int64
	for _, s := range sums {
		total += s
	}
	if total != producers*int64(items)*int64(items-1)/2 {
		fmt.Fprintln(os.Stderr, "W3: wrong sum")
		os.Exit(1)
	}
	fmt.Printf("RESULT W3 go-%d %d 0\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds())
}
