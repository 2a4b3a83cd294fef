// W4 for std::thread: 8 producer threads × 250,000 ints, each on its own
// bounded queue of capacity 64; main is the one consumer. Threads have no
// select, so the consumer polls the 8 queues (starting one further each time,
// for fairness) and, when all are empty, sleeps on a select_hub that every
// push and close bumps: a poll loop that does not burn a core.
#include <array>
#include <memory>
#include <vector>

#include "bench_common.hpp"
#include "thread_channel.hpp"

int main() {
  using queue = bench::bounded_queue<long>;
  bench::select_hub hub;
  std::array<std::unique_ptr<queue>, bench::w4_producers> queues;
  for (auto& q : queues) q = std::make_unique<queue>(bench::w4_capacity, &hub);
  std::vector<std::thread> producers;
  std::int64_t start = bench::now_ns();
  for (auto& q : queues) {
    producers.emplace_back([q = q.get()] {
      for (long i = 0; i < bench::w4_items; ++i) q->push(i);
      q->close();
    });
  }
  std::array<bool, bench::w4_producers> open;
  open.fill(true);
  long open_count = bench::w4_producers;
  std::int64_t sum = 0, count = 0;
  std::size_t first = 0;
  while (open_count > 0) {
    std::uint64_t seen = hub.sequence();
    bool progressed = false;
    for (std::size_t k = 0; k < queues.size(); ++k) {
      std::size_t i = (first + k) % queues.size();
      if (!open[i]) continue;
      long v = 0;
      auto r = queues[i]->try_pop(v);
      if (r == queue::poll::got) {
        sum += v;
        ++count;
        progressed = true;
        break;
      }
      if (r == queue::poll::closed) {
        open[i] = false;
        --open_count;
        progressed = true;
        break;
      }
    }
    first = (first + 1) % queues.size();
    if (!progressed) hub.wait_change(seen);
  }
  std::int64_t elapsed = bench::now_ns() - start;
  for (auto& t : producers) t.join();
  if (count != bench::w4_producers * bench::w4_items ||
      sum != bench::w4_producers * bench::sum_below(bench::w4_items))
    bench::fail("W4", "wrong count or sum");
  bench::print_result("W4", "threads", elapsed);
}
