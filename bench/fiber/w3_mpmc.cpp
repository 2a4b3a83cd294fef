// W3 for Boost.Fiber: one buffered_channel of capacity 1024 (Boost requires a
// power of two and keeps one slot free, so it holds 1023), 4 producer fibers
// × 1,000,000 ints, 4 consumer fibers popping until it is closed.
// argv[1]: threads (default 2).
#include <vector>

#include "bench_common.hpp"
#include "fiber_runtime.hpp"

int main(int argc, char** argv) {
  unsigned threads = bench::workers_arg(argc, argv, "BENCH_WORKERS", 2);
  boost::fibers::buffered_channel<long> ch(bench::w3_capacity);
  std::vector<std::int64_t> sums(bench::w3_consumers);
  bench::fiber_wait_group sent, received;
  bench::fiber_runtime rt(threads);
  std::int64_t start = bench::now_ns();
  sent.add(bench::w3_producers);
  for (long p = 0; p < bench::w3_producers; ++p) {
    boost::fibers::fiber([&] {
      for (long i = 0; i < bench::w3_items; ++i) ch.push(i);
      sent.done();
    }).detach();
  }
  received.add(bench::w3_consumers);
  for (long c = 0; c < bench::w3_consumers; ++c) {
    boost::fibers::fiber([&, c] {
      std::int64_t sum = 0;
      for (long v : ch) sum += v;
      sums[c] = sum;
      received.done();
    }).detach();
  }
  sent.wait();
  ch.close();
  received.wait();
  std::int64_t elapsed = bench::now_ns() - start;
  std::int64_t total = 0;
  for (auto s : sums) total += s;
  if (total != bench::w3_producers * bench::sum_below(bench::w3_items))
    bench::fail("W3", "wrong sum");
  bench::print_result("W3", rt.peer(), elapsed);
}
