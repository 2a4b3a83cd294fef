// goro-test: bundle=false
// (Its own executable, unit_context: the valgrind run of this test starts it.)
// The context layer on its own (goro::detail::context on goro::detail::stack,
// no scheduler): switching, deep stacks, the state a switch must carry besides
// registers (floating-point control, the C++ runtime's exception state), and
// many contexts alive at once.
//
// The build also runs this file under valgrind, so it stays free of what
// valgrind cannot follow: no resource limits, no death tests (those live in
// test_stack.cpp).
#include "goro_test.hpp"
#include "run_program.hpp"
#include "test_helpers.hpp"

#include <algorithm>
#include <atomic>
#include <cfenv>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace {

using namespace goro_test;

using goro::detail::context;
using goro::detail::stack;

/// A fresh context that runs `body(*this)` once and then leaves for `home`
/// for good. `home` is the context that resumes it (usually the thread's own).
/// An exception escaping the body (a failed REQUIRE) is kept and rethrown by
/// rethrow_if_failed() on the home side.
class fiber {
 public:
  fiber(context& home, std::function<void(fiber&)> body, std::size_t stack_bytes = 64 * 1024)
      : home_(home),
        body_(std::move(body)),
        stack_(stack_bytes),
        ctx_(stack_, &fiber::entry, this) {}

  /// From home: runs the fiber until it suspends or finishes.
  void resume() {
    REQUIRE_FALSE(finished_);
    home_.switch_to(ctx_);
  }
  /// From inside the fiber: goes back to home until resumed.
  void suspend() noexcept { ctx_.switch_to(home_); }

  bool finished() const noexcept { return finished_; }
  const stack& stk() const noexcept { return stack_; }
  context& ctx() noexcept { return ctx_; }
  void rethrow_if_failed() {
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  static void entry(void* self_ptr) {
    auto& self = *static_cast<fiber*>(self_ptr);
    try {
      self.body_(self);
    } catch (...) {
      self.failure_ = std::current_exception();
    }
    self.finished_ = true;
    self.ctx_.exit_to(self.home_);
  }

  context& home_;
  std::function<void(fiber&)> body_;
  stack stack_;
  context ctx_;
  bool finished_ = false;
  std::exception_ptr failure_;
};

}  // namespace

TEST_CASE("context: a million switches back and forth", "[context]") {
  const std::int64_t n = goro_test::scaled<std::int64_t>(1000000, 100000);
  context home;
  std::int64_t inside = 0;
  std::int64_t inside_sum = 0;
  fiber f(home, [&](fiber& self) {
    // Locals that live in callee-saved registers across the switch.
    std::int64_t count = 0, sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      ++count;
      sum += i;
      self.suspend();
    }
    inside = count;
    inside_sum = sum;
  });
  std::int64_t outside = 0, outside_sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    f.resume();
    ++outside;
    outside_sum += 3 * i;
  }
  REQUIRE_FALSE(f.finished());
  f.resume();  // leaves the loop and finishes
  REQUIRE(f.finished());
  CHECK(inside == n);
  CHECK(outside == n);
  CHECK(inside_sum == n * (n - 1) / 2);
  CHECK(outside_sum == 3 * (n * (n - 1) / 2));
}

TEST_CASE("context: contexts switch among themselves in a ring", "[context]") {
  // a -> b -> c -> a -> ...: fresh contexts resume each other directly, not
  // only through the thread's own context.
  constexpr int rounds = 10000;
  context home;
  std::vector<int> trace;
  trace.reserve(3 * rounds);
  std::unique_ptr<fiber> ring[3];
  for (int k = 0; k < 3; ++k) {
    ring[k] = std::make_unique<fiber>(home, [&, k](fiber& self) {
      for (int r = 0; r < rounds; ++r) {
        trace.push_back(k);
        if (k == 2 && r == rounds - 1) break;  // c finishes: back to home
        self.ctx().switch_to(ring[(k + 1) % 3]->ctx());
      }
    });
  }
  ring[0]->resume();  // returns when c finishes
  CHECK(ring[2]->finished());
  ring[0]->resume();  // a and b are suspended in their last switch: let them finish
  ring[1]->resume();
  for (auto& f : ring) f->rethrow_if_failed();
  for (auto& f : ring) CHECK(f->finished());
  REQUIRE(trace.size() == 3u * rounds);
  bool in_order = true;
  for (std::size_t i = 0; i < trace.size(); ++i) in_order = in_order && trace[i] == int(i % 3);
  CHECK(in_order);
}

namespace {
// Recursion that the optimiser can neither flatten nor turn into a loop: the
// empty asm forces each frame's result to exist after the call returns.
__attribute__((noinline)) std::uint64_t recurse(std::uint64_t n, std::uintptr_t& deepest) {
  if (n == 0) {
    deepest = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    return 0;
  }
  std::uint64_t r = recurse(n - 1, deepest);
  __asm__ volatile("" : "+r"(r));
  return r + n;
}
}  // namespace

TEST_CASE("context: 20,000 frames of recursion on a 1 MiB context stack", "[context]") {
  constexpr std::uint64_t depth = 20000;
  context home;
  std::uint64_t result = 0;
  std::uintptr_t deepest = 0;
  fiber f(
      home, [&](fiber&) { result = recurse(depth, deepest); }, 1024 * 1024);
  f.resume();
  f.rethrow_if_failed();
  REQUIRE(f.finished());
  CHECK(result == depth * (depth + 1) / 2);
  // It really ran on the context's stack, and really that deep.
  const auto bottom = reinterpret_cast<std::uintptr_t>(f.stk().bottom());
  const auto top = reinterpret_cast<std::uintptr_t>(f.stk().top());
  CHECK(deepest > bottom);
  CHECK(deepest < top);
  CHECK(top - deepest >= depth * 16);  // a frame holds at least a return address, 16-aligned
}

namespace {

// Floating-point control state beyond the rounding mode: flush-to-zero.
#if defined(__x86_64__)
constexpr bool have_flush_to_zero = true;
void set_flush_to_zero(bool on) {
  const unsigned ftz_daz = 0x8040;  // MXCSR.FZ | MXCSR.DAZ
  unsigned c = _mm_getcsr();
  _mm_setcsr(on ? (c | ftz_daz) : (c & ~ftz_daz));
}
bool flush_to_zero() { return (_mm_getcsr() & 0x8000) != 0; }
#elif defined(__aarch64__)
constexpr bool have_flush_to_zero = true;
void set_flush_to_zero(bool on) {
  std::uint64_t v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  const std::uint64_t fz = std::uint64_t{1} << 24;
  v = on ? (v | fz) : (v & ~fz);
  __asm__ volatile("msr fpcr, %0" : : "r"(v));
}
bool flush_to_zero() {
  std::uint64_t v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return (v & (std::uint64_t{1} << 24)) != 0;
}
#else
constexpr bool have_flush_to_zero = false;
void set_flush_to_zero(bool) {}
bool flush_to_zero() { return false; }
#endif

/// 1e-300 * 1e-10 is subnormal: zero when flushing to zero, not zero otherwise.
bool subnormal_result_flushed() {
  volatile double a = 1e-300, b = 1e-10;
  volatile double r = a * b;
  return r == 0.0;
}

/// The rounding mode as arithmetic sees it (not as fegetround reports it),
/// told apart by quotients whose exact values lie between two doubles.
int effective_rounding() {
  volatile double one = 1.0, three = 3.0, ten = 10.0;
  const double third = one / three;  // nearest double is below 1/3: only upward differs
  if (third > 0.33333333333333331) return FE_UPWARD;
  const double tenth = one / ten;  // nearest double is above 1/10: upward and nearest agree
  if (tenth == 0.1) return FE_TONEAREST;
  const double minus_tenth = -one / ten;  // downward rounds away from zero here
  return minus_tenth == -0.1 ? FE_DOWNWARD : FE_TOWARDZERO;
}

struct fp_guard {  // restores the thread's floating-point state after a test
  int round = std::fegetround();
  bool ftz = flush_to_zero();
  ~fp_guard() {
    std::fesetround(round);
    set_flush_to_zero(ftz);
  }
};

}  // namespace

TEST_CASE("context: floating-point control state is kept per context", "[context]") {
  fp_guard restore;
  const int modes[4] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST};
  // valgrind keeps the control registers but computes as if they held the
  // defaults (round to nearest, no flush to zero): there, check only the former.
  const bool check_ftz = have_flush_to_zero && !goro_test::under_valgrind();
  const bool check_arithmetic = !goro_test::under_valgrind();
  constexpr int rounds = 12;

  context home;
  REQUIRE(std::fesetround(FE_UPWARD) == 0);
  if (check_ftz) set_flush_to_zero(false);
  int inherited = -1;
  fiber f(home, [&](fiber& self) {
    inherited = std::fegetround();  // a fresh context starts with its creator's state
    if (check_ftz) set_flush_to_zero(true);
    for (int r = 0; r < rounds; ++r) {
      const int mine = modes[(r + 2) % 4];
      REQUIRE(std::fesetround(mine) == 0);
      self.suspend();
      CHECK(std::fegetround() == mine);
      if (check_arithmetic) CHECK(effective_rounding() == mine);
      if (check_ftz) {
        CHECK(flush_to_zero());
        CHECK(subnormal_result_flushed());
      }
    }
  });
  for (int r = 0; r < rounds; ++r) {
    const int mine = modes[r % 4];  // never the fiber's mode of this round
    REQUIRE(std::fesetround(mine) == 0);
    f.resume();
    CHECK(std::fegetround() == mine);
    if (check_arithmetic) CHECK(effective_rounding() == mine);
    if (check_ftz) {
      CHECK_FALSE(flush_to_zero());
      CHECK_FALSE(subnormal_result_flushed());
    }
  }
  f.resume();
  f.rethrow_if_failed();
  REQUIRE(f.finished());
  CHECK(inherited == FE_UPWARD);
  if (!check_ftz || !check_arithmetic) {
    WARN("under valgrind or without flush-to-zero: only the control registers checked");
  }
}

TEST_CASE("context: an exception is thrown and caught inside a context", "[context][exceptions]") {
  context home;
  std::string caught;
  int depth_reached = 0;
  std::exception_ptr carried;
  fiber f(home, [&](fiber& self) {
    // Thrown many frames down on this stack, caught at its base.
    std::function<void(int)> dive = [&](int n) {
      if (n == 0) throw std::runtime_error("from the bottom of a context");
      depth_reached = std::max(depth_reached, 100 - n + 1);
      dive(n - 1);
    };
    try {
      dive(100);
    } catch (const std::runtime_error& e) {
      caught = e.what();
      CHECK(std::uncaught_exceptions() == 0);
      self.suspend();  // suspended inside the handler
      CHECK(current_what() == "from the bottom of a context");
      carried = std::current_exception();
    }
    CHECK(std::current_exception() == nullptr);
  });
  f.resume();
  CHECK(caught == "from the bottom of a context");
  CHECK(std::current_exception() == nullptr);  // the fiber's handler is not ours
  f.resume();
  f.rethrow_if_failed();
  REQUIRE(f.finished());
  CHECK(depth_reached == 100);
  REQUIRE(carried);  // an exception_ptr may leave its context and be rethrown elsewhere
  CHECK_THROWS_WITH(std::rethrow_exception(carried), "from the bottom of a context");
}

TEST_CASE("context: contexts suspended inside catch blocks keep their own exceptions",
          "[context][exceptions]") {
  context home;
  std::vector<std::string> log;
  fiber a(home, [&](fiber& self) {
    CHECK(std::current_exception() == nullptr);  // fresh: nothing caught yet
    try {
      throw std::runtime_error("A");
    } catch (...) {
      self.suspend();  // b throws and catches meanwhile
      CHECK(current_what() == "A");
      try {  // a nested throw and catch, then back to the outer handler
        throw std::logic_error("A2");
      } catch (const std::logic_error&) {
        CHECK(current_what() == "A2");
        self.suspend();
        CHECK(current_what() == "A2");
      }
      CHECK(current_what() == "A");
      self.suspend();
      CHECK(current_what() == "A");
      log.push_back("a done");
    }
    CHECK(std::current_exception() == nullptr);
  });
  fiber b(home, [&](fiber& self) {
    CHECK(std::current_exception() == nullptr);
    try {
      throw std::runtime_error("B");
    } catch (...) {
      self.suspend();
      CHECK(current_what() == "B");
      self.suspend();
      CHECK(current_what() == "B");
      log.push_back("b done");
    }
    CHECK(std::current_exception() == nullptr);
  });
  try {
    throw std::runtime_error("home");
  } catch (...) {
    a.resume();  // a suspends in its handler of "A"
    CHECK(current_what() == "home");
    b.resume();  // b suspends in its handler of "B"
    CHECK(current_what() == "home");
    a.resume();  // a: in the nested handler of "A2"
    CHECK(current_what() == "home");
    b.resume();
    CHECK(current_what() == "home");
    a.resume();  // a: back in "A"
    b.resume();  // b: leaves its handler and finishes
    CHECK(current_what() == "home");
    a.resume();  // a finishes
    CHECK(current_what() == "home");
  }
  CHECK(std::current_exception() == nullptr);
  a.rethrow_if_failed();
  b.rethrow_if_failed();
  CHECK(a.finished());
  CHECK(b.finished());
  CHECK(log == std::vector<std::string>{"b done", "a done"});
}

namespace {
/// Suspends its fiber from its destructor, i.e. in the middle of unwinding
/// when an exception passes through it.
struct suspend_in_destructor {
  fiber& self;
  int* seen_inside;
  ~suspend_in_destructor() {
    *seen_inside = std::uncaught_exceptions();
    self.suspend();
    seen_inside[1] = std::uncaught_exceptions();
  }
};
}  // namespace

TEST_CASE("context: uncaught_exceptions() is per context", "[context][exceptions]") {
  context home;
  int c_seen[2] = {-1, -1}, d_seen[2] = {-1, -1};
  bool c_caught = false, d_caught = false;
  auto unwinding_body = [](int* seen, bool* caught) {
    return [seen, caught](fiber& self) {
      try {
        suspend_in_destructor s{self, seen};
        throw std::runtime_error("unwinding");
      } catch (const std::runtime_error&) {
        *caught = std::uncaught_exceptions() == 0;
      }
    };
  };
  fiber c(home, unwinding_body(c_seen, &c_caught));
  fiber d(home, unwinding_body(d_seen, &d_caught));
  c.resume();  // c suspends mid-unwind: one exception in flight there
  CHECK(std::uncaught_exceptions() == 0);
  d.resume();  // so does d: its own one
  CHECK(std::uncaught_exceptions() == 0);
  c.resume();
  CHECK(std::uncaught_exceptions() == 0);
  d.resume();
  c.rethrow_if_failed();
  d.rethrow_if_failed();
  CHECK(c_seen[0] == 1);
  CHECK(c_seen[1] == 1);
  CHECK(d_seen[0] == 1);
  CHECK(d_seen[1] == 1);
  CHECK(c_caught);
  CHECK(d_caught);
  CHECK(c.finished());
  CHECK(d.finished());
}

namespace {
/// What a context saw of the thread it ran on, at one point.
struct thread_view {
  std::thread::id id;
  void* exception_globals = nullptr;   ///< goro::detail::thread_exception_globals()
  const void* running_slot = nullptr;  ///< &goro::detail::running_stack_slot()
  const void* worker_slot = nullptr;   ///< &goro::detail::current_worker_slot()
};
__attribute__((noinline)) thread_view view_of_this_thread() {
  __asm__ volatile("" ::: "memory");  // see goro_test::thread_id_now
  return {std::this_thread::get_id(), goro::detail::thread_exception_globals(),
          &goro::detail::running_stack_slot(), &goro::detail::current_worker_slot()};
}

/// The state of the migrating context in the test below.
struct migrant {
  context* home = nullptr;  ///< the context of whichever thread resumes it now
  context* self = nullptr;
  std::thread::id id_before, id_after;
  std::string what_after;
  bool has_exception_after = false;

  static void run(void* p) {
    auto& m = *static_cast<migrant*>(p);
    m.id_before = thread_id_now();
    try {
      throw std::runtime_error("travels");
    } catch (...) {
      m.self->switch_to(*m.home);  // suspended on thread 1, resumed on thread 2
      m.id_after = thread_id_now();
      m.what_after = current_what();
      m.has_exception_after = std::current_exception() != nullptr;
    }
    m.self->exit_to(*m.home);
  }
};
}  // namespace

TEST_CASE("context: a context suspended on one thread resumes on another", "[context][threads]") {
  // What a goroutine that migrates between workers does: its exception state
  // goes with it, and thread-local lookups after the switch find the thread
  // it runs on now.
  stack stk(64 * 1024);
  migrant m;
  context ctx(stk, &migrant::run, &m);
  m.self = &ctx;
  thread_view thread1, thread2;
  std::atomic<int> stage{0};

  std::thread t1([&] {
    thread1 = view_of_this_thread();
    context home;
    m.home = &home;
    home.switch_to(ctx);
    CHECK(std::current_exception() == nullptr);  // the context took its state along
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();  // stays alive: ids stay distinct
  });
  std::thread t2([&] {
    while (stage.load() != 1) std::this_thread::yield();
    thread2 = view_of_this_thread();
    context home;
    m.home = &home;
    try {
      throw std::logic_error("thread 2's own");
    } catch (...) {
      home.switch_to(ctx);  // resumes on this thread and finishes
      CHECK(current_what() == "thread 2's own");
    }
    CHECK(std::current_exception() == nullptr);
    stage = 2;
  });
  t1.join();
  t2.join();
  REQUIRE(thread1.id != thread2.id);
  CHECK(m.id_before == thread1.id);
  CHECK(m.id_after == thread2.id);
  CHECK(m.what_after == "travels");
  CHECK(m.has_exception_after);
}

namespace {
/// goro's thread-local accessors, called in the plainest shape: called,
/// switched away (to come back on another thread), called again, all in one
/// function. This is the shape in which GCC once reused the first results.
struct lookup_migrant {
  context* home = nullptr;
  context* self = nullptr;
  void* eh[2] = {nullptr, nullptr};
  const void* running[2] = {nullptr, nullptr};
  const void* worker[2] = {nullptr, nullptr};

  static void run(void* p) {
    auto& m = *static_cast<lookup_migrant*>(p);
    void* eh0 = goro::detail::thread_exception_globals();
    const void* running0 = &goro::detail::running_stack_slot();
    const void* worker0 = &goro::detail::current_worker_slot();
    m.self->switch_to(*m.home);
    void* eh1 = goro::detail::thread_exception_globals();
    const void* running1 = &goro::detail::running_stack_slot();
    const void* worker1 = &goro::detail::current_worker_slot();
    m.eh[0] = eh0;
    m.eh[1] = eh1;
    m.running[0] = running0;
    m.running[1] = running1;
    m.worker[0] = worker0;
    m.worker[1] = worker1;
    m.self->exit_to(*m.home);
  }
};
}  // namespace

TEST_CASE("context: goro's thread-local lookups see the thread a context moved to",
          "[context][threads]") {
  // thread_exception_globals(), running_stack_slot() and current_worker_slot()
  // are GORO_TLS_ACCESSORs: a call after a switch must be a fresh lookup on
  // the thread the caller now runs on, never a reuse of a call made before
  // the switch (which a compiler may do when it proves them `const`).
  stack stk(64 * 1024);
  lookup_migrant m;
  context ctx(stk, &lookup_migrant::run, &m);
  m.self = &ctx;
  thread_view thread1, thread2;
  std::atomic<int> stage{0};
  std::thread t1([&] {
    thread1 = view_of_this_thread();
    context home;
    m.home = &home;
    home.switch_to(ctx);
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
  });
  std::thread t2([&] {
    while (stage.load() != 1) std::this_thread::yield();
    thread2 = view_of_this_thread();
    context home;
    m.home = &home;
    home.switch_to(ctx);
    stage = 2;
  });
  t1.join();
  t2.join();
  REQUIRE(thread1.id != thread2.id);
  CHECK(m.eh[0] == thread1.exception_globals);
  CHECK(m.eh[1] == thread2.exception_globals);
  CHECK(m.running[0] == thread1.running_slot);
  CHECK(m.running[1] == thread2.running_slot);
  CHECK(m.worker[0] == thread1.worker_slot);
  CHECK(m.worker[1] == thread2.worker_slot);
}

namespace {
/// The kernel map entries (lines of /proc/self/maps) that overlap any of the
/// address ranges [first, second), which must be sorted and disjoint.
std::size_t map_entries_overlapping(
    const std::vector<std::pair<std::uintptr_t, std::uintptr_t>>& ranges) {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    std::uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2) continue;
    // The first range ending after lo is the only candidate that can overlap.
    auto it = std::upper_bound(ranges.begin(), ranges.end(), lo,
                               [](std::uintptr_t v, const auto& r) { return v < r.second; });
    if (it != ranges.end() && it->first < hi) ++n;
  }
  return n;
}

struct small_context {
  stack stk;
  context ctx;
  context* home;
  std::uint32_t runs = 0;
  explicit small_context(context& h)
      : stk(goro::detail::min_stack_bytes), ctx(stk, &small_context::entry, this), home(&h) {}
  static void entry(void* p) {
    auto& self = *static_cast<small_context*>(p);
    volatile char touch[512];  // a little of the stack besides the start frame
    touch[0] = 1;
    touch[511] = touch[0];
    ++self.runs;
    self.ctx.switch_to(*self.home);
    ++self.runs;
    self.ctx.exit_to(*self.home);
  }
};
}  // namespace

TEST_CASE("context: 100,000 contexts alive at once on 16 KiB stacks", "[context][many]") {
  std::size_t n = 100000;
  if (goro_test::under_valgrind()) {
    n = 2000;  // valgrind looks registered stacks up one by one on every switch
  } else if (goro_test::config_has_tag("tsan")) {
    // Each live context is a TSan fiber, a thread's state (at most 8,128):
    // about 7 ms each to create on the CI host of 2026-12-01, where 5,000
    // took 35 s of the configuration's test time.
    n = 1000;
  } else if (goro_test::under_sanitizer() || goro_test::under_emulator()) {
    n = 5000;
  }
  { stack probe(goro::detail::min_stack_bytes); }  // settles guard_method_in_use()
  const auto method = goro::detail::guard_method_in_use().load();
  REQUIRE(method != goro::detail::guard_method::unknown);
  const bool merged_guards = method == goro::detail::guard_method::madvise_guard;
  if (!merged_guards && n > 25000) {
    // An mprotect guard splits each stack into two map entries; the default
    // vm.max_map_count (65,530) holds about 32,000 such stacks.
    WARN("guard pages by mprotect on this kernel: 25,000 contexts instead of " << n);
    n = 25000;
  }
  context home;
  std::vector<std::unique_ptr<small_context>> all;
  all.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    all.push_back(std::make_unique<small_context>(home));
    home.switch_to(all.back()->ctx);  // runs up to its first switch: touches its stack
  }
  // The map entries that hold our stacks (guards included), counted while all
  // are alive. Only those: sanitizers add mappings of their own per context.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  ranges.reserve(n);
  for (auto& c : all) {
    ranges.emplace_back(reinterpret_cast<std::uintptr_t>(c->stk.bottom()) - c->stk.guard(),
                        reinterpret_cast<std::uintptr_t>(c->stk.top()));
  }
  std::sort(ranges.begin(), ranges.end());
  const std::size_t entries = map_entries_overlapping(ranges);
  for (auto& c : all) home.switch_to(c->ctx);  // each finishes
  std::size_t ran_twice = 0;
  for (auto& c : all) ran_twice += c->runs == 2 ? 1 : 0;
  CHECK(ran_twice == n);
  INFO(n << " stacks alive occupy " << entries << " kernel map entries");
  CHECK(entries > 0);
  if (merged_guards) {
    // A guard that does not split its stack's mapping lets neighbouring
    // stacks share entries (but ThreadSanitizer maps memory between them).
    CHECK(entries <= n);
#if !defined(GORO_TSAN)
    CHECK(entries < n / 10 + 100);
#endif
  } else {
    CHECK(entries <= 2 * n);
  }
  CHECK(entries < 65530 / 2);
}

TEST_CASE("context: the id given at construction", "[context]") {
  stack s(goro::detail::min_stack_bytes);
  context c(
      s, [](void*) {}, nullptr, 42);  // never started
  CHECK(c.id() == 42);
  context plain;
  CHECK(plain.id() == 0);
}
