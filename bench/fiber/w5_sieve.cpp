// W5 for Boost.Fiber: Go's concurrent prime sieve, first 5,000 primes, one
// fiber per filter and unbuffered_channel<long> between them. As in Go, the
// generator and filters are still blocked when main has its primes; the
// program ends with _Exit, as a Go program does. argv[1]: threads (default 2).
#include "bench_common.hpp"
#include "fiber_runtime.hpp"

using channel = boost::fibers::unbuffered_channel<long>;

int main(int argc, char** argv) {
  unsigned threads = bench::workers_arg(argc, argv, "BENCH_WORKERS", 2);
  auto* rt = new bench::fiber_runtime(threads);  // never destroyed: see above
  std::int64_t start = bench::now_ns();
  auto* ch = new channel();
  boost::fibers::fiber([ch] {
    for (long i = 2;; ++i) ch->push(i);
  }).detach();
  long prime = 0;
  for (long n = 0; n < bench::w5_primes; ++n) {
    prime = ch->value_pop();
    auto* next = new channel();
    boost::fibers::fiber([in = ch, out = next, prime] {
      for (;;) {
        long i = in->value_pop();
        if (i % prime != 0) out->push(i);
      }
    }).detach();
    ch = next;
  }
  std::int64_t elapsed = bench::now_ns() - start;
  if (prime != bench::w5_last_prime) bench::fail("W5", "wrong last prime");
  bench::print_result("W5", rt->peer(), elapsed);
  std::_Exit(0);
}
