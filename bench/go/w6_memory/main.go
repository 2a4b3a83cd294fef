// W6: 100,000 goroutines parked on one channel. The extra metric is resident
// bytes per goroutine: the growth of the resident set (/proc/self/statm)
// between before the first spawn and when all have started, divided by
// 100,000. The time covers spawning them, and closing the channel to wake
// them all and waiting until every one has finished.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const goroutines = 100000

func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize())
}

func main() {
	gate := make(chan int)
	var started, finished sync.WaitGroup
	before := residentBytes()
	start := time.Now()
	started.Add(goroutines)
	finished.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func() {
			started.Done()
			<-gate
			finished.Done()
		}()
	}
	started.Wait()
	runtime.Gosched() // let the last ones reach the receive
	after := residentBytes()
	close(gate)
	finished.Wait()
	elapsed := time.Since(start)
	if before < 0 || after < 0 {
		fmt.Fprintln(os.Stderr, "W6: cannot read /proc/self/statm")
		os.Exit(1)
	}
	perGoroutine := float64(after-before) / goroutines
	fmt.Printf("RESULT W6 go-%d %d %.1f\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds(), perGoroutine)
}
