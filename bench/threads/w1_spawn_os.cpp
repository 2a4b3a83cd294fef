// W1, real OS threads: 10,000 std::thread objects (not 1,000,000: that many
// threads is not a thing one does), each incrementing a counter, all joined.
// The extra metric is ns per thread (create + run + join).
#include <vector>

#include "bench_common.hpp"
#include "thread_channel.hpp"

constexpr long threads = 10000;

int main() {
  std::atomic<long> counter{0};
  std::vector<std::thread> all;
  all.reserve(threads);
  std::int64_t start = bench::now_ns();
  for (long i = 0; i < threads; ++i) {
    all.emplace_back([&] { counter.fetch_add(1, std::memory_order_relaxed); });
  }
  for (auto& t : all) t.join();
  std::int64_t elapsed = bench::now_ns() - start;
  if (counter.load() != threads) bench::fail("W1", "wrong count");
  bench::print_result("W1", "threads-os", elapsed, static_cast<double>(elapsed) / threads);
}
