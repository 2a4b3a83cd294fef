// W1 for std::thread: spawning 1,000,000 OS threads is not a comparison
// anyone would make, so the "goroutines" are 1,000,000 tasks (std::function)
// run by a pool of hardware_concurrency threads that share one mutex +
// condition-variable queue. Each task increments a counter; main waits for
// all. w1_spawn_os measures real thread creation separately.
#include "bench_common.hpp"
#include "thread_channel.hpp"

int main() {
  std::atomic<long> counter{0};
  bench::wait_group wg;  // outlives the pool, so a late done() is safe
  bench::task_pool pool(bench::hardware_threads());
  std::int64_t start = bench::now_ns();
  wg.add(bench::w1_goroutines);
  for (long i = 0; i < bench::w1_goroutines; ++i) {
    pool.submit([&] {
      counter.fetch_add(1, std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  std::int64_t elapsed = bench::now_ns() - start;
  if (counter.load() != bench::w1_goroutines) bench::fail("W1", "wrong count");
  bench::print_result("W1", "threads", elapsed);
}
