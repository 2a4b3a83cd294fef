// W1 for goro: the main goroutine spawns 1,000,000 goroutines that each
// increment a counter, then waits for all. argv[1]: workers.
#include "goro_bench.hpp"

int main(int argc, char** argv) {
  static std::atomic<long> counter{0};
  static goro::wait_group wg;  // outlives the runtime: a late done() is safe
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    const long goroutines = bench::scaled(bench::w1_goroutines);
    std::int64_t start = bench::now_ns();
    wg.add(goroutines);
    for (long i = 0; i < goroutines; ++i) {
      goro::go([] {
        counter.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    std::int64_t elapsed = bench::now_ns() - start;
    if (counter.load() != goroutines) bench::fail("W1", "wrong count");
    bench::print_result("W1", peer, elapsed);
  });
}
