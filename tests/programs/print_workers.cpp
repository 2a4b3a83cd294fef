// Prints how many workers the default runtime started, after running one
// goroutine on it, and how many hardware threads there are:
//   "workers <n> hardware <m>"
// The test runs it with GORO_WORKERS set in the environment.
#include <goro/goro.hpp>

#include <atomic>
#include <cstdio>
#include <thread>

int main() {
  goro::wait_group wg;
  std::atomic<bool> ran{false};
  wg.add(1);
  goro::go([&] {
    ran = true;
    wg.done();
  });
  wg.wait();
  std::printf("workers %zu hardware %u%s\n", goro::runtime::default_runtime().workers(),
              std::thread::hardware_concurrency(), ran ? "" : " (the goroutine did not run)");
  return ran ? 0 : 1;
}
