// W6 for Boost.Fiber: 100,000 fibers (default stack allocator) parked on one
// unbuffered channel. The extra metric is the growth of the resident set
// (/proc/self/statm) per fiber, from before the first spawn to when all have
// started. The time covers spawning them until all have started, then
// closing the channel to wake them and waiting until all have finished.
// argv[1]: threads (default 2).
#include "bench_common.hpp"
#include "fiber_runtime.hpp"

int main(int argc, char** argv) {
  unsigned threads = bench::workers_arg(argc, argv, "BENCH_WORKERS", 2);
  boost::fibers::unbuffered_channel<long> gate;
  bench::fiber_wait_group started, finished;
  bench::fiber_runtime rt(threads);
  std::int64_t before = bench::resident_bytes();
  std::int64_t start = bench::now_ns();
  started.add(bench::w6_goroutines);
  finished.add(bench::w6_goroutines);
  for (long i = 0; i < bench::w6_goroutines; ++i) {
    boost::fibers::fiber([&] {
      started.done();
      long v;
      gate.pop(v);  // returns closed
      finished.done();
    }).detach();
  }
  started.wait();
  boost::this_fiber::yield();  // let the last ones reach the channel
  std::int64_t after = bench::resident_bytes();
  gate.close();
  finished.wait();
  std::int64_t elapsed = bench::now_ns() - start;
  if (before < 0 || after < 0) bench::fail("W6", "cannot read /proc/self/statm");
  bench::print_result("W6", rt.peer(), elapsed,
                      static_cast<double>(after - before) / bench::w6_goroutines);
}
