// goro-test: bundle=false
// (Alone: it replaces operator new for the whole program.)
// An allocation that fails on a worker's own context (a worker thread
// running no goroutine): goro's bookkeeping there has no caller to throw to,
// so it must end in a goro fatal error that says so, not in std::terminate's
// silence (issue 13, defect 8). This program's operator new fails every
// allocation on a worker's own context once armed; goroutines that exit give
// their stacks back to the worker's pool, whose list grows there.
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<bool> armed{false};
}

void* operator new(std::size_t n) {
  if (armed.load(std::memory_order_relaxed) && goro::detail::current_worker_slot() != nullptr &&
      goro::detail::current_goroutine() == nullptr) {
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

int main() {
  goro::runtime_options options;
  options.workers = 1;
  goro::runtime rt(options);
  armed.store(true);
  for (int i = 0; i < 10000; ++i) rt.go([] {});
  std::this_thread::sleep_for(std::chrono::seconds(30));  // the abort comes first
  std::puts("still alive");
  armed.store(false);
  return 0;
}
