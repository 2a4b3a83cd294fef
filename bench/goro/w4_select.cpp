// W4 for goro: 8 producer goroutines × 250,000 ints, each on its own channel
// of capacity 64; the main goroutine selects over the 8 channels until all
// are closed, switching a closed one off by making it nil, as in Go.
// argv[1]: workers.
#include <array>

#include "goro_bench.hpp"

int main(int argc, char** argv) {
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    std::array<goro::chan<long>, bench::w4_producers> chans;
    for (auto& c : chans) c = goro::make_chan<long>(bench::w4_capacity);
    const long items = bench::scaled(bench::w4_items);
    std::int64_t start = bench::now_ns();
    for (auto& c : chans) {
      goro::go([c, items] {
        for (long i = 0; i < items; ++i) c.send(i);
        c.close();
      });
    }
    std::int64_t sum = 0, count = 0;
    long open = bench::w4_producers;
    bool closed = false;
    auto on = [&](goro::chan<long>& c) {
      return goro::case_recv(c, [&](std::optional<long> v) {
        if (v) {
          sum += *v;
          ++count;
        } else {
          closed = true;
        }
      });
    };
    while (open > 0) {
      closed = false;
      std::size_t i = goro::select(on(chans[0]), on(chans[1]), on(chans[2]), on(chans[3]),
                                   on(chans[4]), on(chans[5]), on(chans[6]), on(chans[7]));
      if (closed) {
        chans[i] = goro::chan<long>();  // nil: this case is never ready again
        --open;
      }
    }
    std::int64_t elapsed = bench::now_ns() - start;
    if (count != bench::w4_producers * items ||
        sum != bench::w4_producers * bench::sum_below(items))
      bench::fail("W4", "wrong count or sum");
    bench::print_result("W4", peer, elapsed);
  });
}
