// prime_sieve: Go's concurrent prime sieve, one goroutine per prime.
//
// The Go program it mirrors (from the Go tour and the spec's early days):
//
//   func generate(ch chan<- int) { for i := 2; ; i++ { ch <- i } }
//   func filter(in <-chan int, out chan<- int, prime int) {
//       for { i := <-in; if i%prime != 0 { out <- i } }
//   }
//   func main() {
//       ch := make(chan int)
//       go generate(ch)
//       for i := 0; i < n; i++ {
//           prime := <-ch
//           fmt.Println(prime)
//           ch1 := make(chan int)
//           go filter(ch, ch1, prime)
//           ch = ch1
//       }
//   }
//
// Every number travels down a chain of filters, one per prime found so far;
// what comes out of the end of the chain is the next prime.
//
// Go's version just returns from main and lets the goroutines die with the
// process. goro allows that too, but this one also shows how to take such a
// chain down cleanly: a `done` channel stops the generator, and the close
// then ripples down the chain (each filter's range loop ends and it closes
// its own output), until main sees the last channel closed.
//
// Usage: prime_sieve [n]   (default 25: the primes below 100)
#include "goro.hpp"

#include <cstdio>
#include <cstdlib>

namespace {

// func generate(ch chan<- int, done <-chan struct{})
void generate(goro::send_chan<int> out, goro::recv_chan<bool> done) {
  for (int i = 2;; ++i) {
    bool stop = false;
    // select { case out <- i: case <-done: return }
    goro::select(goro::case_send(out, i), goro::case_recv(done, [&stop] { stop = true; }));
    if (stop) break;
  }
  out.close();
}

// func filter(in <-chan int, out chan<- int, prime int)
void filter(goro::recv_chan<int> in, goro::send_chan<int> out, int prime) {
  for (int i : in) {  // for i := range in: ends when the stage before closes
    if (i % prime != 0) out.send(i);
  }
  out.close();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 25;
  if (n <= 0) {
    std::fprintf(stderr, "usage: %s [n > 0]\n", argv[0]);
    return 2;
  }

  // A channel that is only ever closed, never sent on: Go's `chan struct{}`
  // used as a broadcast. Its element type does not matter.
  auto done = goro::make_chan<bool>();

  goro::chan<int> ch = goro::make_chan<int>();  // ch := make(chan int)
  goro::go(generate, ch, done);                 // go generate(ch, done)
  for (int i = 0; i < n; ++i) {
    const int prime = *ch.recv();  // prime := <-ch
    std::printf("%d\n", prime);
    auto next = goro::make_chan<int>();
    goro::go(filter, ch, next, prime);  // go filter(ch, ch1, prime)
    ch = next;                          // ch = ch1: the handle is reassigned, as in Go
  }

  // Shut the chain down: numbers already in flight still come out of the
  // last filter, so drain it until the close arrives.
  done.close();
  for (int leftover : ch) (void)leftover;
  return 0;
}
