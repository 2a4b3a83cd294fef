// W2 for Boost.Fiber: 1,000,000 round trips between main and one fiber over
// two boost::fibers::unbuffered_channel<long>. argv[1]: threads (default 2).
#include "bench_common.hpp"
#include "fiber_runtime.hpp"

int main(int argc, char** argv) {
  unsigned threads = bench::workers_arg(argc, argv, "BENCH_WORKERS", 2);
  using channel = boost::fibers::unbuffered_channel<long>;
  channel ping, pong;
  bench::fiber_runtime rt(threads);
  std::int64_t start = bench::now_ns();
  boost::fibers::fiber echo([&] {
    for (long v : ping) pong.push(v);
  });
  std::int64_t sum = 0;
  for (long i = 0; i < bench::w2_round_trips; ++i) {
    ping.push(i);
    sum += pong.value_pop();
  }
  ping.close();
  echo.join();
  std::int64_t elapsed = bench::now_ns() - start;
  if (sum != bench::sum_below(bench::w2_round_trips)) bench::fail("W2", "wrong sum");
  bench::print_result("W2", rt.peer(), elapsed);
}
