// Helpers shared by the unit tests. Included after goro_test.hpp.
#ifndef GORO_TEST_SUPPORT_TEST_HELPERS_HPP
#define GORO_TEST_SUPPORT_TEST_HELPERS_HPP

#include "run_program.hpp"

#include <signal.h>

#include <absl/random/random.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace Catch {
/// Prints op_status values by name in failed assertions.
template <>
struct StringMaker<goro::op_status> {
  static std::string convert(goro::op_status s) {
    switch (s) {
      case goro::op_status::ok:
        return "ok";
      case goro::op_status::full:
        return "full";
      case goro::op_status::empty:
        return "empty";
      case goro::op_status::closed:
        return "closed";
      case goro::op_status::timeout:
        return "timeout";
    }
    return "op_status(?)";
  }
};
}  // namespace Catch

namespace goro_test {

/// Work divisor for loop counts: a quarter of the work under AddressSanitizer
/// and with the ucontext switch, a tenth under ThreadSanitizer, valgrind or
/// an emulator (see slow_run in run_program.hpp). ThreadSanitizer runs goro's
/// tests 5 to 20 times slower and needs few repetitions: it reports two
/// accesses unordered by happens-before whether or not they happened to
/// collide in time. The ucontext switch makes a system call (swapcontext
/// saves and restores the signal mask): test_stress took 36 s there, 20 s
/// with the assembly switch, on the CI host of 2026-12-01.
inline int work_divisor() {
#if defined(GORO_TSAN)
  return 10;
#elif defined(GORO_USE_UCONTEXT)
  return slow_run() ? 10 : 4;
#else
  return under_sanitizer() ? 4 : slow_run() ? 10 : 1;
#endif
}
/// work_divisor(), once. Never a constant expression, in any build, so that
/// lambdas capture counts derived from it the same way under every compiler.
inline const int kScale = work_divisor();

/// What goroutines and threads saw that they should not have; checked on the
/// test thread (Catch2's assertion macros are not thread-safe).
class failures {
 public:
  void add(std::string what) {
    std::lock_guard<std::mutex> lock(m_);
    msgs_.push_back(std::move(what));
  }
  void expect(bool ok, const std::string& what) {
    if (!ok) add(what);
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lock(m_);
    return std::move(msgs_);
  }

 private:
  std::mutex m_;
  std::vector<std::string> msgs_;
};

/// Polls `pred` until it holds or `limit` passes; sleeps between polls (a
/// goroutine parks, a thread sleeps). Returns whether it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = goro::clock::now() + limit;
  while (!pred()) {
    if (goro::clock::now() > deadline) return false;
    goro::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// The calling goroutine's record (nullptr on a thread): a test's window
/// into goro::detail, for waiting until a goroutine has parked.
inline goro::detail::goroutine* current_goroutine() noexcept {
  goro::detail::worker* w = goro::detail::current_worker_slot();
  return w != nullptr ? w->current.load(std::memory_order_relaxed) : nullptr;
}

/// Waits until goroutine `g` has parked (on a channel's queue, say): its
/// worker marks it waiting only after it is queued and switched out. That a
/// goroutine reached the line before a blocking call says nothing of the
/// kind, even on one worker: the monitor may preempt it at the call's
/// preemption point, and the goroutine that waits for it then runs on. `g`
/// must stay parked until this returns (nothing may wake it meanwhile).
inline bool eventually_parked(const goro::detail::goroutine* g) {
  return eventually(
      [g] { return g->status.load(std::memory_order_acquire) == goro::detail::g_status::waiting; });
}

/// Options for a runtime of n workers, with goroutine stacks of `stack_size`
/// bytes (default: the library's).
inline goro::runtime_options workers(std::size_t n,
                                     std::size_t stack_size = goro::runtime_options{}.stack_size) {
  goro::runtime_options o;
  o.workers = n;
  o.stack_size = stack_size;
  return o;
}

/// Runs body(f) on the test thread, then in a goroutine; checks f after each.
template <class Body>
void on_thread_and_goroutine(Body body) {
  {
    failures f;
    body(f);
    INFO("on the test thread");
    CHECK(f.take() == std::vector<std::string>{});
  }
  {
    failures f;
    {
      goro::runtime rt(workers(2));
      rt.go([&] { body(f); });
    }
    INFO("in a goroutine");
    CHECK(f.take() == std::vector<std::string>{});
  }
}

/// The message of the exception `e` holds ("" if none or not a std::exception).
inline std::string what_of(const std::exception_ptr& e) {
  if (!e) return "";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "";
}

/// The message of the exception the caller is handling ("" if none).
inline std::string current_what() { return what_of(std::current_exception()); }

/// The calling thread's id, looked up afresh on every call: a goroutine may
/// have moved to another worker since its last call, and glibc declares
/// pthread_self() `const`. Built like the library's own thread-local accessors.
GORO_TLS_ACCESSOR inline std::thread::id thread_id_now() {
  GORO_TLS_BARRIER();
  return std::this_thread::get_id();
}

/// A random generator for one party (a thread or goroutine), seeded from a
/// process-wide counter and the clock. Not from absl's shared entropy pool:
/// that lives in a library built without ThreadSanitizer, which then reports
/// the pool's internal locking as data races.
inline absl::BitGen seeded_bitgen() {
  static std::atomic<std::uint32_t> parties{0};
  std::seed_seq seq{parties.fetch_add(1),
                    static_cast<std::uint32_t>(goro::clock::now().time_since_epoch().count())};
  return absl::BitGen(seq);
}

/// Runs tests/programs/stack_overflow in `mode`, one that overflows a
/// goroutine's stack after printing "goroutine <id>", and checks that the
/// process died of it with goro's report naming that goroutine (under
/// AddressSanitizer, which replaces goro's handler: with ASan's report).
inline program_result check_goroutine_overflow(const char* mode) {
  INFO("stack_overflow " << mode);
  program_result r = run_program(program_path("stack_overflow"), {mode});
  INFO(r.describe());
  CHECK_FALSE(r.succeeded());
  CHECK_FALSE(r.timed_out);
  unsigned long long id = 0;
  REQUIRE(std::sscanf(r.out.c_str(), "goroutine %llu", &id) == 1);
  CHECK(id > 0);
#if defined(GORO_ASAN)
  CHECK(contains(r.err, "AddressSanitizer"));
#else
  CHECK(r.signal == SIGSEGV);
  CHECK(contains(r.err,
                 "goro: fatal error: stack overflow in goroutine " + std::to_string(id) + " "));
#endif
  return r;
}

/// took >= want, for any duration type.
template <class D>
bool at_least(goro::clock::duration took, D want) {
  return took >= std::chrono::duration_cast<goro::clock::duration>(want);
}

}  // namespace goro_test

#endif
