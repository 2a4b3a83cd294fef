// goro-test: skip-under=asan,tsan bundle=false
// (Its own executable: it replaces operator new for the whole program.)
// No allocation on a worker's own context (issue 13, defect 8): an
// allocation there that fails has no caller to throw to (it ended in
// std::terminate with no goro message). This test replaces operator new for
// the whole program and counts the allocations made on a worker's
// scheduler context (a worker thread running no goroutine) while thousands
// of goroutines do timed waits of every kind: recv_for, sleep_for, select
// with after(), timers, tickers and context deadlines. Before the fix, the
// timer heap grew there (a timed wait arms its timer after its goroutine
// parked) and so did the worker's list of due timers: hundreds of
// allocations. Now the heap grows in go() and in a timer's constructor.
// (Not under the sanitizers, which bring their own operator new.)
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>

using namespace std::chrono_literals;

// GCC sees operator delete calling std::free on what operator new returned,
// not that both are this file's replacements over malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::atomic<bool> counting{false};
std::atomic<long> on_worker_context{0};

void note_allocation() noexcept {
  if (!counting.load(std::memory_order_relaxed)) return;
  if (goro::detail::current_worker_slot() != nullptr &&
      goro::detail::current_goroutine() == nullptr) {
    on_worker_context.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

void* operator new(std::size_t n) {
  note_allocation();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  note_allocation();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("worker context: timed waits allocate nothing on a worker's own context",
          "[alloc][time]") {
  goro::runtime_options options;
  options.workers = 2;
  goro::runtime rt(options);
  const int n = 3000 / goro_test::kScale;
  auto release = goro::make_chan<int>();
  goro::wait_group waited;
  counting = true;
  for (int i = 0; i < n; ++i) {
    waited.add(1);
    rt.go([&, i] {
      auto never = goro::make_chan<int>();
      (void)never.recv_for(std::chrono::milliseconds(1 + i % 3));
      goro::sleep_for(std::chrono::microseconds(500 + (i % 7) * 100));
      goro::select(goro::case_recv(never), goro::case_recv(goro::after(1ms)));
      goro::timer t(2ms);
      t.chan().recv();
      if (i % 10 == 0) {
        goro::ticker tk(1ms);
        tk.chan().recv();
        tk.chan().recv();
      }
      auto ctx = goro::with_timeout(goro::background(), 1ms);
      goro::select(goro::case_recv(ctx.ctx.done()), goro::case_recv(never));
      waited.done();
      release.recv();  // exits (stack back to the pool) only after counting stops
    });
  }
  waited.wait();
  counting = false;
  release.close();
  rt.wait();
  INFO(on_worker_context.load() << " allocations on a worker's scheduler context");
  CHECK(on_worker_context.load() == 0);
}

TEST_CASE("worker alloc: an allocation that fails on a worker's own context is a goro fatal error",
          "[worker_alloc][death]") {
  const auto r = goro_test::run_program(goro_test::program_path("worker_out_of_memory"));
  INFO(r.describe());
  CHECK(r.signal == SIGABRT);
  CHECK_FALSE(goro_test::contains(r.out, "still alive"));
  CHECK(goro_test::contains(
      r.err, "goro: fatal error: out of memory on a goro worker thread, outside any goroutine"));
}
