// Deletes a goro::runtime from one of its own goroutines: a fatal error
// naming that misuse (the destructor would wait for the goroutine running
// it). The process must abort with the message, not hang.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  goro::runtime_options options;
  options.workers = 1;
  auto* rt = new goro::runtime(options);
  rt->go([rt] { delete rt; });
  std::this_thread::sleep_for(std::chrono::seconds(30));  // the abort comes first
  std::puts("still alive");
  return 0;
}
