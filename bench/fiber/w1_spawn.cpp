// W1 for Boost.Fiber: main spawns 1,000,000 detached fibers that each
// increment a counter, then waits for all. argv[1]: threads (default 2).
#include "bench_common.hpp"
#include "fiber_runtime.hpp"

int main(int argc, char** argv) {
  unsigned threads = bench::workers_arg(argc, argv, "BENCH_WORKERS", 2);
  std::atomic<long> counter{0};
  bench::fiber_wait_group wg;
  bench::fiber_runtime rt(threads);
  std::int64_t start = bench::now_ns();
  wg.add(bench::w1_goroutines);
  for (long i = 0; i < bench::w1_goroutines; ++i) {
    boost::fibers::fiber([&] {
      counter.fetch_add(1, std::memory_order_relaxed);
      wg.done();
    }).detach();
  }
  wg.wait();
  std::int64_t elapsed = bench::now_ns() - start;
  if (counter.load() != bench::w1_goroutines) bench::fail("W1", "wrong count");
  bench::print_result("W1", rt.peer(), elapsed);
}
