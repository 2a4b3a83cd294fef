// W10: how late a timer due in 1 ms fires while every worker runs a busy
// poller (a `select` with `default` in a loop, which only preemption takes
// off its worker). The first goroutine sleeps 1 ms, 200 times, and measures
// how long after its deadline it runs again: the time to fire the timer and
// to get a worker. Prints the median lateness as the time and the 99th
// percentile as the extra metric, both in ns. argv[1]: workers.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "goro_bench.hpp"

constexpr int samples = 200;
constexpr std::int64_t due_ns = 1000000;  // the timer: 1 ms

int main(int argc, char** argv) {
  static goro::wait_group pollers;  // outlives the runtime
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    const auto workers = static_cast<unsigned>(goro::runtime::current()->workers());
    auto done = goro::make_chan<int>();
    std::atomic<unsigned> started{0};
    pollers.add(static_cast<int>(workers));
    for (unsigned i = 0; i < workers; ++i) {
      goro::go([done, &started] {
        started.fetch_add(1, std::memory_order_relaxed);
        for (bool open = true; open;) {
          goro::select(goro::case_recv(done, [&open] { open = false; }), goro::case_default([] {}));
        }
        pollers.done();
      });
    }
    // Every worker busy before the first sample.
    while (started.load(std::memory_order_relaxed) < workers) goro::yield();
    std::vector<std::int64_t> late;
    late.reserve(samples);
    for (int i = 0; i < samples; ++i) {
      const std::int64_t start = bench::now_ns();
      goro::sleep_for(std::chrono::nanoseconds(due_ns));
      late.push_back(bench::now_ns() - start - due_ns);
    }
    done.close();
    pollers.wait();
    std::sort(late.begin(), late.end());
    const std::int64_t median = late[late.size() / 2];
    const std::int64_t p99 = late[late.size() * 99 / 100];
    bench::print_result("W10", peer, median, static_cast<double>(p99));
  });
}
