// W3 for std::thread: one bounded queue of capacity 1024, 4 producer threads
// × 1,000,000 ints, 4 consumer threads popping until it is closed.
#include <vector>

#include "bench_common.hpp"
#include "thread_channel.hpp"

int main() {
  bench::bounded_queue<long> queue(bench::w3_capacity);
  std::vector<std::int64_t> sums(bench::w3_consumers);
  std::vector<std::thread> producers, consumers;
  std::int64_t start = bench::now_ns();
  for (long p = 0; p < bench::w3_producers; ++p) {
    producers.emplace_back([&] {
      for (long i = 0; i < bench::w3_items; ++i) queue.push(i);
    });
  }
  for (long c = 0; c < bench::w3_consumers; ++c) {
    consumers.emplace_back([&, c] {
      std::int64_t sum = 0;
      while (auto v = queue.pop()) sum += *v;
      sums[c] = sum;
    });
  }
  for (auto& t : producers) t.join();
  queue.close();
  for (auto& t : consumers) t.join();
  std::int64_t elapsed = bench::now_ns() - start;
  std::int64_t total = 0;
  for (auto s : sums) total += s;
  if (total != bench::w3_producers * bench::sum_below(bench::w3_items))
    bench::fail("W3", "wrong sum");
  bench::print_result("W3", "threads", elapsed);
}
