// A data race ThreadSanitizer must report with clean goroutine stacks, after
// thousands of goroutines have finished and handed their TSan fibers on
// (sanitizer.hpp's fiber cache). A frame left on a reused fiber's shadow
// stack would show in the report under the racing goroutine's own frames,
// once for every goroutine that used the fiber before.
//
//   tsan_race_report   churn, then two goroutines write one int unordered;
//                      prints "goroutines N" first. Under TSan it exits 66
//                      with the report; in any other build it exits 0.
#include <goro/goro.hpp>

#include <atomic>
#include <cstdio>

namespace {

constexpr int churn = 3000;

int shared_value = 0;  // the racy one: written by both, ordered by nothing
std::atomic<bool> first_wrote{false};
std::atomic<bool> second_wrote{false};

// Noinline, so that the report names them.
__attribute__((noinline)) void racy_write_first() {
  shared_value = 1;
  // Relaxed on purpose: TSan draws no happens-before edge from these.
  first_wrote.store(true, std::memory_order_relaxed);
  while (!second_wrote.load(std::memory_order_relaxed)) {
  }
}

__attribute__((noinline)) void racy_write_second() {
  while (!first_wrote.load(std::memory_order_relaxed)) {
  }
  shared_value = 2;
  second_wrote.store(true, std::memory_order_relaxed);
}

}  // namespace

int main() {
  goro::runtime_options o;
  o.workers = 2;
  goro::runtime rt(o);
  rt.go([] {
    // One at a time, so that each one's fiber is back in a cache before the
    // next is started.
    for (int i = 0; i < churn; ++i) {
      auto done = goro::make_chan<int>();
      goro::go([done] { done.send(1); });
      done.recv();
    }
    std::printf("goroutines %d\n", churn);
    std::fflush(stdout);
    // Each spins until the other has written, so they hold both workers at
    // once and nothing orders the two writes.
    goro::go([] { racy_write_first(); });
    goro::go([] { racy_write_second(); });
  });
  rt.wait();
  return shared_value == 0 ? 1 : 0;
}
