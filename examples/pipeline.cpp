// pipeline: stages connected by channels, with a fan-out / fan-in in the middle.
//
//   generate 1..n -> square -> 3 x keep_primes -> merge -> sum
//
// It mirrors the Go blog's "Pipelines and cancellation": each stage is a
// function that takes its input as `<-chan T` (goro::recv_chan<T>), starts a
// goroutine, and returns its output as `<-chan T`; the goroutine closes the
// output when its input is exhausted, so `range` ends in the next stage and
// the end of the data flows down the pipeline like a value.
//
// The middle stage is the slow one (a primality test), so it is fanned out:
// three goroutines read the same channel (each value goes to exactly one of
// them) and merge() fans their outputs back into one channel.
//
// It prints the primes of the form k*k + 1 for k in 1..n (Landau's problem).
//
// Usage: pipeline [n]   (default 1000)
#include "goro.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace {

using u64 = std::uint64_t;

// func generate(n int) <-chan int
goro::recv_chan<u64> generate(u64 n) {
  auto out = goro::make_chan<u64>();
  // Passed as an argument, like `go func(out chan<- int) { ... }(out)`: the
  // goroutine holds its own handle, and the send-only view documents its role.
  goro::go(
      [n](goro::send_chan<u64> out) {
        for (u64 k = 1; k <= n; ++k) out.send(k);
        out.close();  // close(out): tells the next stage there is no more
      },
      out);
  return out;  // chan<T> converts to recv_chan<T>, as Go's chan T to <-chan T
}

// func square(in <-chan int) <-chan int
goro::recv_chan<u64> square(goro::recv_chan<u64> in) {
  auto out = goro::make_chan<u64>();
  goro::go(
      [](goro::recv_chan<u64> in, goro::send_chan<u64> out) {
        for (u64 k : in) out.send(k * k);  // for k := range in
        out.close();
      },
      in, out);
  return out;
}

bool is_prime(u64 v) {
  if (v < 2) return false;
  for (u64 d = 2; d * d <= v; ++d) {
    if (v % d == 0) return false;
  }
  return true;
}

// One of the fanned-out workers: passes on sq+1 for each square sq for which it is prime.
goro::recv_chan<u64> keep_primes(goro::recv_chan<u64> in) {
  auto out = goro::make_chan<u64>();
  goro::go(
      [](goro::recv_chan<u64> in, goro::send_chan<u64> out) {
        for (u64 sq : in) {
          if (is_prime(sq + 1)) out.send(sq + 1);
        }
        out.close();
      },
      in, out);
  return out;
}

// func merge(cs ...<-chan int) <-chan int: one forwarding goroutine per input,
// and a sync.WaitGroup so the output is closed once, after all of them end.
goro::recv_chan<u64> merge(const std::vector<goro::recv_chan<u64>>& inputs) {
  auto out = goro::make_chan<u64>();
  // In Go the WaitGroup escapes to the heap because closures capture it; in
  // C++ we say so: the goroutines share ownership, merge() returns at once.
  auto wg = std::make_shared<goro::wait_group>();
  wg->add(static_cast<std::int64_t>(inputs.size()));  // before any `go`, as in Go
  for (const auto& in : inputs) {
    goro::go(
        [wg](goro::recv_chan<u64> in, goro::send_chan<u64> out) {
          for (u64 v : in) out.send(v);
          wg->done();
        },
        in, out);
  }
  goro::go(
      [wg](goro::send_chan<u64> out) {  // go func() { wg.Wait(); close(out) }()
        wg->wait();
        out.close();
      },
      out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: %s [n > 0]\n", argv[0]);
    return 2;
  }

  goro::recv_chan<u64> squares = square(generate(static_cast<u64>(n)));

  // Fan out: three readers of one channel share its values between them.
  std::vector<goro::recv_chan<u64>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(keep_primes(squares));

  // Fan in, and the sink: main ranges over the merged channel. Arrival order
  // depends on scheduling; a sum and a count do not.
  u64 sum = 0, count = 0;
  for (u64 p : merge(workers)) {
    sum += p;
    ++count;
  }
  std::printf("primes of the form k*k+1 for k in 1..%ld: %llu, sum %llu\n", n,
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(sum));
  return 0;
}
