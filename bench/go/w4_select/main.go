// W4: select fan-in, 8 producers × 250,000 ints, each on its own channel of
// capacity 64, one consumer (main) selecting over the 8 channels until all
// are closed. A closed channel is switched off by setting it to nil.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"gorobench/benchsize"
)

const (
	producers = 8
	capacity  = 64
)

var items = benchsize.Scaled(250000)

func produce(out chan<- int) {
	for i := 0; i < items; i++ {
		out <- i
	}
	close(out)
}

func main() {
	var chans [producers]chan int
	for i := range chans {
		chans[i] = make(chan int, capacity)
	}
	start := time.Now()
	for _, c := range chans {
		go produce(c)
	}
	c0, c1, c2, c3, c4, c5, c6, c7 := chans[0], chans[1], chans[2], chans[3], chans[4], chans[5], chans[6], chans[7]
	var sum, count int64
	open := producers
	for open > 0 {
		var v int
		var ok bool
		select {
		case v, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case v, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case v, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case v, ok = <-c3:
			if !ok {
				c3 = nil
			}
		case v, ok = <-c4:
			if !ok {
				c4 = nil
			}
		case v, ok = <-c5:
			if !ok {
				c5 = nil
			}
		case v, ok = <-c6:
			if !ok {
				c6 = nil
			}
		case v, ok = <-c7:
			if !ok {
				c7 = nil
			}
		}
		if ok {
			sum += int64(v)
			count++
		} else {
			open--
		}
	}
	elapsed := time.Since(start)
	if count != producers*int64(items) || sum != producers*int64(items)*int64(items-1)/2 {
		fmt.Fprintln(os.Stderr, "W4: wrong count or sum")
		os.Exit(1)
	}
	fmt.Printf("RESULT W4 go-%d %d 0\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds())
}
