// W5 for goro: Go's concurrent prime sieve, first 5,000 primes, one goroutine
// per filter and unbuffered channels between them. As in Go, the generator and
// filters are still blocked when main has its primes; the program ends with
// _Exit, as a Go program does (an explicit runtime would wait for them).
// argv[1]: workers.
#include "goro_bench.hpp"

int main(int argc, char** argv) {
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    const long primes = bench::scaled(bench::w5_primes);
    std::int64_t start = bench::now_ns();
    auto ch = goro::make_chan<long>();
    goro::go([ch] {
      for (long i = 2;; ++i) ch.send(i);
    });
    long prime = 0;
    for (long n = 0; n < primes; ++n) {
      prime = *ch.recv();
      auto next = goro::make_chan<long>();
      goro::go([in = ch, out = next, prime] {
        for (;;) {
          long i = *in.recv();
          if (i % prime != 0) out.send(i);
        }
      });
      ch = next;
    }
    std::int64_t elapsed = bench::now_ns() - start;
    if (prime != (primes == bench::w5_primes ? bench::w5_last_prime : bench::nth_prime(primes)))
      bench::fail("W5", "wrong last prime");
    bench::print_result("W5", peer, elapsed);
    std::_Exit(0);
  });
}
