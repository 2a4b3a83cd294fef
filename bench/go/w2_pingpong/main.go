// W2: ping-pong, 1,000,000 round trips over two unbuffered channels.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"gorobench/benchsize"
)

var roundTrips = benchsize.Scaled(1000000)

func main() {
	ping := make(chan int)
	pong := make(chan int)
	start := time.Now()
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	sum := 0
	for i := 0; i < roundTrips; i++ {
		ping <- i
		sum += <-pong
	}
	close(ping)
	elapsed := time.Since(start)
	if sum != roundTrips*(roundTrips-1)/2 {
		fmt.Fprintln(os.Stderr, "W2: wrong sum")
		os.Exit(1)
	}
	fmt.Printf("RESULT W2 go-%d %d 0\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds())
}
