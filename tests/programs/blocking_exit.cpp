// Returns from main while goro::blocking's helper threads are still there:
// some idle (their calls done), one still inside a call that sleeps far
// longer than the test waits. The process must end at once and cleanly
// (status 0, no crash in static destructors), printing "done <sum>".
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  goro::wait_group wg;
  std::atomic<int> sum{0};
  for (int i = 1; i <= 4; ++i) {
    wg.add(1);
    goro::go([&, i] {
      sum.fetch_add(goro::blocking([](int x) { return x * 10; }, i));
      wg.done();
    });
  }
  wg.wait();  // four calls done: their helpers now idle (default idle_timeout, 10 s)

  std::atomic<bool> inside{false};
  goro::go([&] {
    goro::blocking([&] {
      inside = true;
      std::this_thread::sleep_for(std::chrono::seconds(60));  // still asleep when main returns
    });
  });
  while (!inside.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::printf("done %d\n", sum.load());
  return 0;
}
