// W3 for goro: one channel of capacity 1024, 4 producer goroutines
// × 1,000,000 ints, 4 consumer goroutines receiving until it is closed.
// argv[1]: workers.
#include <vector>

#include "goro_bench.hpp"

int main(int argc, char** argv) {
  static goro::wait_group sent, received;  // outlive the runtime
  static std::vector<std::int64_t> sums(bench::w3_consumers);
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    auto ch = goro::make_chan<long>(bench::w3_capacity);
    const long items = bench::scaled(bench::w3_items);
    std::int64_t start = bench::now_ns();
    sent.add(bench::w3_producers);
    for (long p = 0; p < bench::w3_producers; ++p) {
      goro::go([ch, items] {
        for (long i = 0; i < items; ++i) ch.send(i);
        sent.done();
      });
    }
    received.add(bench::w3_consumers);
    for (long c = 0; c < bench::w3_consumers; ++c) {
      goro::go([ch, c] {
        std::int64_t sum = 0;
        for (long v : ch) sum += v;
        sums[c] = sum;
        received.done();
      });
    }
    sent.wait();
    ch.close();
    received.wait();
    std::int64_t elapsed = bench::now_ns() - start;
    std::int64_t total = 0;
    for (auto s : sums) total += s;
    if (total != bench::w3_producers * bench::sum_below(items)) bench::fail("W3", "wrong sum");
    bench::print_result("W3", peer, elapsed);
  });
}
