// W4 for goro, with the select built at run time: as w4_select, but the
// consumer's 8 cases live in a goro::select_set (Go's reflect.Select), the
// way fan-in over a std::vector of channels is written; a closed channel's
// case is disabled. Reported as goro-set-<workers>. argv[1]: workers.
#include <vector>

#include "goro_bench.hpp"

int main(int argc, char** argv) {
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    std::vector<goro::chan<long>> chans;
    for (long p = 0; p < bench::w4_producers; ++p) {
      chans.push_back(goro::make_chan<long>(bench::w4_capacity));
    }
    const long items = bench::scaled(bench::w4_items);
    std::int64_t start = bench::now_ns();
    for (auto& c : chans) {
      goro::go([c, items] {
        for (long i = 0; i < items; ++i) c.send(i);
        c.close();
      });
    }
    std::int64_t sum = 0, count = 0;
    bool closed = false;
    goro::select_set cases;
    for (auto& c : chans) {
      cases.add_recv(c, [&](std::optional<long> v) {
        if (v) {
          sum += *v;
          ++count;
        } else {
          closed = true;
        }
      });
    }
    for (long open = bench::w4_producers; open > 0;) {
      closed = false;
      std::size_t i = cases.select();
      if (closed) {
        cases.disable(i);
        --open;
      }
    }
    std::int64_t elapsed = bench::now_ns() - start;
    if (count != bench::w4_producers * items ||
        sum != bench::w4_producers * bench::sum_below(items))
      bench::fail("W4", "wrong count or sum");
    bench::print_result("W4", "goro-set-" + peer.substr(5), elapsed);
  });
}
