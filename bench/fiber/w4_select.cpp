// W4 for Boost.Fiber: 8 producer fibers × 250,000 ints, each on its own
// buffered_channel of capacity 64 (holds 63, see w3); main is the one
// consumer. Boost.Fiber has no select, so the consumer polls the 8 channels
// with try_pop (starting one further each time, for fairness) and yields to
// the scheduler when all are empty: the usual Boost.Fiber idiom.
// argv[1]: threads (default 2).
#include <array>
#include <memory>

#include "bench_common.hpp"
#include "fiber_runtime.hpp"

int main(int argc, char** argv) {
  unsigned threads = bench::workers_arg(argc, argv, "BENCH_WORKERS", 2);
  using channel = boost::fibers::buffered_channel<long>;
  using boost::fibers::channel_op_status;
  std::array<std::unique_ptr<channel>, bench::w4_producers> chans;
  for (auto& c : chans) c = std::make_unique<channel>(bench::w4_capacity);
  bench::fiber_runtime rt(threads);
  std::int64_t start = bench::now_ns();
  for (auto& c : chans) {
    boost::fibers::fiber([c = c.get()] {
      for (long i = 0; i < bench::w4_items; ++i) c->push(i);
      c->close();
    }).detach();
  }
  std::array<bool, bench::w4_producers> open;
  open.fill(true);
  long open_count = bench::w4_producers;
  std::int64_t sum = 0, count = 0;
  std::size_t first = 0;
  while (open_count > 0) {
    bool progressed = false;
    for (std::size_t k = 0; k < chans.size(); ++k) {
      std::size_t i = (first + k) % chans.size();
      if (!open[i]) continue;
      long v = 0;
      channel_op_status r = chans[i]->try_pop(v);
      if (r == channel_op_status::success) {
        sum += v;
        ++count;
        progressed = true;
        break;
      }
      if (r == channel_op_status::closed) {
        open[i] = false;
        --open_count;
        progressed = true;
        break;
      }
    }
    first = (first + 1) % chans.size();
    if (!progressed) boost::this_fiber::yield();
  }
  std::int64_t elapsed = bench::now_ns() - start;
  if (count != bench::w4_producers * bench::w4_items ||
      sum != bench::w4_producers * bench::sum_below(bench::w4_items))
    bench::fail("W4", "wrong count or sum");
  bench::print_result("W4", rt.peer(), elapsed);
}
