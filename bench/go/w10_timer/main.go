// W10: how late a timer due in 1 ms fires while every P runs a busy poller
// (a select with default in a loop, which only preemption takes off its P).
// The main goroutine sleeps 1 ms, 200 times, and measures how long after its
// deadline it runs again. Prints the median lateness as the time and the
// 99th percentile as the extra metric, both in ns.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const samples = 200
const due = time.Millisecond

func main() {
	procs := runtime.GOMAXPROCS(0)
	done := make(chan struct{})
	var started int32
	var pollers sync.WaitGroup
	pollers.Add(procs)
	for i := 0; i < procs; i++ {
		go func() {
			atomic.AddInt32(&started, 1)
			for {
				select {
				case <-done:
					pollers.Done()
					return
				default:
				}
			}
		}()
	}
	for atomic.LoadInt32(&started) < int32(procs) {
		runtime.Gosched()
	}
	late := make([]int64, 0, samples)
	for i := 0; i < samples; i++ {
		start := time.Now()
		time.Sleep(due)
		late = append(late, time.Since(start).Nanoseconds()-due.Nanoseconds())
	}
	close(done)
	pollers.Wait()
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	median := late[len(late)/2]
	p99 := late[len(late)*99/100]
	fmt.Printf("RESULT W10 go-%d %d %d\n", procs, median, p99)
}
