// W7 (scheduler reference, not a raw switch): two goroutines hand the worker
// to each other with goro::yield, 1,000,000 times each; the counterpart of
// the Go program calling runtime.Gosched. Meaningful with 1 worker. The extra
// metric is ns per yield, one goroutine to the other.
// argv[1]: workers.
#include "goro_bench.hpp"

constexpr long full_yields = 1000000;

int main(int argc, char** argv) {
  static goro::wait_group wg;  // outlives the runtime
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    const long yields = bench::scaled(full_yields);
    std::int64_t start = bench::now_ns();
    wg.add(2);
    for (int g = 0; g < 2; ++g) {
      goro::go([yields] {
        for (long i = 0; i < yields; ++i) goro::yield();
        wg.done();
      });
    }
    wg.wait();
    std::int64_t elapsed = bench::now_ns() - start;
    bench::print_result("W7", "goro-yield-" + peer.substr(5), elapsed,
                        static_cast<double>(elapsed) / static_cast<double>(2 * yields));
  });
}
