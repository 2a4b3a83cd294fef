// Package benchsize scales a workload's size, as the C++ programs' bench::scaled
// does: by the environment variable BENCH_SCALE (0 < scale <= 1), else 1.
// tools/bench counts instructions under callgrind at two small scales and
// takes the difference, so that start-up and exit cancel out.
package benchsize

import (
	"fmt"
	"math"
	"os"
	"strconv"
)

var scale = func() float64 {
	text := os.Getenv("BENCH_SCALE")
	if text == "" {
		return 1
	}
	s, err := strconv.ParseFloat(text, 64)
	if err != nil || !(s > 0 && s <= 1) {
		fmt.Fprintf(os.Stderr, "bad BENCH_SCALE '%s' (want 0 < scale <= 1)\n", text)
		os.Exit(2)
	}
	return s
}()

// Scaled returns n times the scale, rounded half away from zero, at least 1.
func Scaled(n int) int {
	s := int(math.Round(float64(n) * scale))
	if s < 1 {
		return 1
	}
	return s
}

// NthPrime returns the n-th prime (n >= 1): what a scaled W5 must end with.
func NthPrime(n int) int {
	for limit := 64; ; limit *= 2 {
		composite := make([]bool, limit)
		found := 0
		for i := 2; i < limit; i++ {
			if composite[i] {
				continue
			}
			found++
			if found == n {
				return i
			}
			for j := i * i; j < limit; j += i {
				composite[j] = true
			}
		}
	}
}
