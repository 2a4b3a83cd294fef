// W5 for std::thread: Go's concurrent prime sieve with one OS thread per
// filter (5,000 of them) and bounded queues of capacity 1 as the unbuffered
// channels. As in Go, the generator and filters are still blocked when main
// has its primes; the program ends with _Exit, as a Go program does.
#include <memory>
#include <vector>

#include "bench_common.hpp"
#include "thread_channel.hpp"

using channel = bench::bounded_queue<long>;

int main() {
  // Channels live until _Exit; threads are detached (they never end).
  std::int64_t start = bench::now_ns();
  auto* ch = new channel(1);
  std::thread([ch] {
    for (long i = 2;; ++i) ch->push(i);
  }).detach();
  long prime = 0;
  for (long n = 0; n < bench::w5_primes; ++n) {
    prime = *ch->pop();
    auto* next = new channel(1);
    std::thread([in = ch, out = next, prime] {
      for (;;) {
        long i = *in->pop();
        if (i % prime != 0) out->push(i);
      }
    }).detach();
    ch = next;
  }
  std::int64_t elapsed = bench::now_ns() - start;
  if (prime != bench::w5_last_prime) bench::fail("W5", "wrong last prime");
  bench::print_result("W5", "threads", elapsed);
  std::_Exit(0);
}
