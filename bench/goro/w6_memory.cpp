// W6 for goro: 100,000 goroutines parked on one unbuffered channel, with the
// runtime's default stack size. The extra metric is the growth of the resident
// set (/proc/self/statm) per goroutine, from before the first spawn to when
// all have started. The time covers spawning them until all have started, then
// closing the channel to wake them and waiting until all have finished.
// argv[1]: workers.
#include "goro_bench.hpp"

int main(int argc, char** argv) {
  static goro::wait_group started, finished;  // outlive the runtime
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    auto gate = goro::make_chan<long>();
    std::int64_t before = bench::resident_bytes();
    std::int64_t start = bench::now_ns();
    started.add(bench::w6_goroutines);
    finished.add(bench::w6_goroutines);
    for (long i = 0; i < bench::w6_goroutines; ++i) {
      goro::go([gate] {
        started.done();
        (void)gate.recv();  // nullopt once closed
        finished.done();
      });
    }
    started.wait();
    goro::yield();  // let the last ones reach the channel
    std::int64_t after = bench::resident_bytes();
    gate.close();
    finished.wait();
    std::int64_t elapsed = bench::now_ns() - start;
    if (before < 0 || after < 0) bench::fail("W6", "cannot read /proc/self/statm");
    bench::print_result("W6", peer, elapsed,
                        static_cast<double>(after - before) / bench::w6_goroutines);
  });
}
