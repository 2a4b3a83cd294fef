// W5: the concurrent prime sieve of the Go documentation, first 5,000 primes.
// As in the original, the generator and filters are left blocked when main
// has its primes, and the program ends with them.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"gorobench/benchsize"
)

const fullPrimes = 5000
const lastPrime = 48611 // the 5,000th prime

var primes = benchsize.Scaled(fullPrimes)

func generate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

func filter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

func main() {
	start := time.Now()
	ch := make(chan int)
	go generate(ch)
	prime := 0
	for i := 0; i < primes; i++ {
		prime = <-ch
		next := make(chan int)
		go filter(ch, next, prime)
		ch = next
	}
	elapsed := time.Since(start)
	want := lastPrime
	if primes != fullPrimes {
		want = benchsize.NthPrime(primes)
	}
	if prime != want {
		fmt.Fprintln(os.Stderr, "W5: wrong last prime")
		os.Exit(1)
	}
	fmt.Printf("RESULT W5 go-%d %d 0\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds())
}
