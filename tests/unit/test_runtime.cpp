// The runtime as users see it: goroutine identity (in_goroutine,
// goroutine_id, num_goroutines, runtime::current), options (workers,
// GORO_WORKERS, stack size), exceptions (escaping a goroutine, per-goroutine
// exception state), running out of stacks, and the hello example.
#include "goro_test.hpp"
#include "run_program.hpp"
#include "test_helpers.hpp"

#include <absl/container/flat_hash_set.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace goro_test;

/// Goroutine stacks for these tests: small, so that thousands fit under the sanitizers.
constexpr std::size_t kStack = 64 * 1024;

#define EXPECT_IN_GOROUTINE(f, cond) \
  ((cond) ? (void)0 : (f).add(std::string(#cond " at line ") + std::to_string(__LINE__)))

}  // namespace

TEST_CASE("runtime: in_goroutine, goroutine_id and runtime::current", "[runtime]") {
  if (goro::runtime::default_runtime_if_started() == nullptr) {
    CHECK(goro::num_goroutines() == 0);  // asking does not start the default runtime
    CHECK(goro::runtime::default_runtime_if_started() == nullptr);
  }
  CHECK_FALSE(goro::in_goroutine());
  CHECK(goro::goroutine_id() == 0);
  CHECK(goro::runtime::current() == nullptr);

  goro::runtime rt(workers(2, kStack));
  constexpr int n = 100;
  std::vector<std::uint64_t> ids(n, 0);
  std::vector<int> inside(n, 0);
  std::vector<goro::runtime*> where(n, nullptr);
  for (int i = 0; i < n; ++i) {
    rt.go([&, i] {
      inside[i] = goro::in_goroutine() ? 1 : 0;
      ids[i] = goro::goroutine_id();
      where[i] = goro::runtime::current();
    });
  }
  rt.wait();
  absl::flat_hash_set<std::uint64_t> distinct(ids.begin(), ids.end());
  CHECK(distinct.size() == ids.size());
  CHECK_FALSE(distinct.contains(0));
  bool increasing = true;  // ids are given in order of creation
  for (int i = 1; i < n; ++i) increasing = increasing && ids[i] > ids[i - 1];
  CHECK(increasing);
  for (int i = 0; i < n; ++i) {
    CHECK(inside[i] == 1);
    CHECK(where[i] == &rt);
  }
}

TEST_CASE("runtime: goro::go inside a goroutine starts it on the same runtime", "[runtime]") {
  goro::runtime a(workers(1, kStack)), b(workers(1, kStack));
  std::atomic<goro::runtime*> child_a{nullptr}, child_b{nullptr};
  a.go([&] { goro::go([&] { child_a = goro::runtime::current(); }); });
  b.go([&] { goro::go([&] { child_b = goro::runtime::current(); }); });
  a.wait();
  b.wait();
  CHECK(child_a.load() == &a);
  CHECK(child_b.load() == &b);
}

TEST_CASE("runtime: num_goroutines counts the live goroutines", "[runtime]") {
  goro::runtime rt(workers(2, kStack));
  CHECK(rt.num_goroutines() == 0);
  constexpr std::size_t n = 50;
  goro::wait_group gate, started;
  gate.add(1);
  started.add(n);
  std::atomic<std::size_t> seen_inside{0};
  for (std::size_t i = 0; i < n; ++i) {
    rt.go([&] {
      started.done();
      gate.wait();
    });
  }
  started.wait();
  CHECK(rt.num_goroutines() == n);
  // From a goroutine of rt, goro::num_goroutines() is rt's count (itself included).
  goro::wait_group probe;
  probe.add(1);
  rt.go([&] {
    seen_inside = goro::num_goroutines();
    probe.done();
  });
  probe.wait();
  CHECK(seen_inside.load() == n + 1);
  gate.done();
  rt.wait();
  CHECK(rt.num_goroutines() == 0);
}

TEST_CASE("runtime: options are filled in and kept", "[runtime]") {
  goro::runtime rt(workers(3, 1000));
  CHECK(rt.workers() == 3);
  CHECK(rt.options().workers == 3);
  CHECK(rt.options().stack_size >= goro::detail::min_stack_bytes);  // raised to the minimum
  goro::runtime big(workers(1, 1024 * 1024));
  CHECK(big.options().stack_size == 1024 * 1024);
  // A goroutine can use (most of) the stack it was promised.
  std::atomic<bool> done{false};
  big.go([&] {
    volatile char buffer[900 * 1024];
    buffer[0] = 1;
    buffer[sizeof buffer - 1] = buffer[0];
    done = buffer[sizeof buffer - 1] == 1;
  });
  big.wait();
  CHECK(done.load());
}

TEST_CASE("runtime: the destructor waits for every goroutine", "[runtime]") {
  std::atomic<int> finished{0};
  {
    goro::runtime rt(workers(2, kStack));
    for (int i = 0; i < 100; ++i) {
      rt.go([&] {
        goro::sleep_for(20ms);
        // Started while the destructor already waits: waited for too.
        goro::go([&] {
          goro::sleep_for(10ms);
          finished.fetch_add(1);
        });
        finished.fetch_add(1);
      });
    }
  }
  CHECK(finished.load() == 200);
}

TEST_CASE("runtime: wait from a goroutine of another runtime parks it", "[runtime]") {
  goro::runtime outer(workers(1, kStack)), inner(workers(1, kStack));
  std::atomic<int> inner_done{0};
  std::atomic<bool> outer_saw_all{false}, other_ran{false};
  for (int i = 0; i < 10; ++i) {
    inner.go([&] {
      goro::sleep_for(10ms);
      inner_done.fetch_add(1);
    });
  }
  outer.go([&] {
    inner.wait();  // parks this goroutine: outer's only worker stays free
    outer_saw_all = inner_done.load() == 10;
  });
  outer.go([&] { other_ran = true; });
  outer.wait();
  CHECK(outer_saw_all.load());
  CHECK(other_ran.load());
}

TEST_CASE("runtime: GORO_WORKERS sets the default runtime's workers", "[runtime][env]") {
  const std::string program = goro_test::program_path("print_workers");
  SECTION("GORO_WORKERS=3") {
    const auto r = goro_test::run_program(program, {}, {"GORO_WORKERS=3"});
    INFO(r.describe());
    CHECK(r.succeeded());
    CHECK(goro_test::contains(r.out, "workers 3 "));
  }
  SECTION("GORO_WORKERS=1") {
    const auto r = goro_test::run_program(program, {}, {"GORO_WORKERS=1"});
    INFO(r.describe());
    CHECK(r.succeeded());
    CHECK(goro_test::contains(r.out, "workers 1 "));
  }
  SECTION("unset: one per hardware thread") {
    const auto r = goro_test::run_program(program, {}, {"GORO_WORKERS"});
    INFO(r.describe());
    CHECK(r.succeeded());
    unsigned workers = 0, hardware = 0;
    REQUIRE(std::sscanf(r.out.c_str(), "workers %u hardware %u", &workers, &hardware) == 2);
    CHECK(workers == std::max(1u, hardware));
  }
  SECTION("not a number: ignored with a warning") {
    const auto r = goro_test::run_program(program, {}, {"GORO_WORKERS=many"});
    INFO(r.describe());
    CHECK(r.succeeded());
    CHECK(goro_test::contains(r.err, "GORO_WORKERS=many"));
    unsigned workers = 0, hardware = 0;
    REQUIRE(std::sscanf(r.out.c_str(), "workers %u hardware %u", &workers, &hardware) == 2);
    CHECK(workers == std::max(1u, hardware));
  }
}

TEST_CASE("runtime: on_unhandled_exception gets the exception; the runtime keeps working",
          "[runtime][exceptions]") {
  std::mutex m;
  std::vector<std::pair<std::uint64_t, std::string>> reported;
  goro::runtime_options o = workers(2, kStack);
  o.on_unhandled_exception = [&](std::uint64_t id, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(m);
    reported.emplace_back(id, what_of(e));
  };
  goro::runtime rt(std::move(o));
  std::atomic<std::uint64_t> thrower_id{0};
  rt.go([&] {
    thrower_id = goro::goroutine_id();
    throw std::runtime_error("escaped");
  });
  rt.wait();
  {
    std::lock_guard<std::mutex> lock(m);
    REQUIRE(reported.size() == 1);
    CHECK(reported[0].first == thrower_id.load());
    CHECK(reported[0].second == "escaped");
  }
  CHECK(rt.num_goroutines() == 0);
  // Still working: more goroutines, some throwing, all accounted for.
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    rt.go([&, i] {
      ran.fetch_add(1);
      if (i % 10 == 0) throw std::logic_error("again " + std::to_string(i));
    });
  }
  rt.wait();
  CHECK(ran.load() == 100);
  std::lock_guard<std::mutex> lock(m);
  CHECK(reported.size() == 11);
}

TEST_CASE("runtime: an exception escaping a goroutine ends the program with a message",
          "[runtime][exceptions][death]") {
  const std::string program = goro_test::program_path("unhandled_exception");
  for (const char* mode : {"std", "default", "other"}) {
    INFO("mode " << mode);
    const auto r = goro_test::run_program(program, {mode});
    INFO(r.describe());
    CHECK_FALSE(r.succeeded());
    CHECK_FALSE(r.timed_out);
    CHECK(r.signal == SIGABRT);
    CHECK_FALSE(goro_test::contains(r.out, "still alive"));
    unsigned long long id = 0;
    REQUIRE(std::sscanf(r.out.c_str(), "goroutine %llu", &id) == 1);
    const std::string expected =
        "goro: fatal error: unhandled exception in goroutine " + std::to_string(id) + ": " +
        (std::string(mode) == "other" ? "an exception not derived from std::exception"
                                      : "the answer was 41");
    CHECK(goro_test::contains(r.err, expected));
  }
}

TEST_CASE("runtime: go throws when no stack can be had", "[runtime][limits]") {
  SECTION("a stack size no mapping can satisfy is refused when the runtime is made") {
    // 32 TiB: above runtime_options' 1 TiB bound (test_limits.cpp), so the
    // runtime refuses it rather than every go() failing later.
    CHECK_THROWS_AS(goro::runtime(workers(1, std::size_t{1} << 45)), std::invalid_argument);
  }
  SECTION("the address space runs out, then goroutines finish and go works again") {
    if (goro_test::under_sanitizer() || goro_test::under_emulator()) {
      WARN("skipped: an address-space limit cannot work under sanitizers or emulators");
      return;
    }
    // One worker: every recycled stack sits in that worker's own pool.
    for (const char* workers : {"1", "2"}) {
      INFO("workers " << workers);
      const auto r = goro_test::run_program(goro_test::program_path("go_exhaustion"), {workers});
      INFO(r.describe());
      if (r.exit_code == 77) {
        WARN("skipped: RLIMIT_AS has no effect here: " << r.out);
        return;
      }
      CHECK(r.succeeded());
      CHECK(goro_test::contains(r.out, "ok: go threw"));
    }
  }
}

namespace {
/// A function object whose copies throw while `fail` is set.
struct copy_may_throw {
  std::atomic<bool>* fail;
  std::atomic<int>* ran;
  copy_may_throw(std::atomic<bool>* f, std::atomic<int>* r) : fail(f), ran(r) {}
  copy_may_throw(const copy_may_throw& o) : fail(o.fail), ran(o.ran) {
    if (fail->load()) throw std::runtime_error("copy refused");
  }
  void operator()() const { ran->fetch_add(1); }
};
}  // namespace

TEST_CASE("runtime: a go() whose function cannot be copied throws and loses nothing",
          "[runtime][exceptions]") {
  // The stack it took is discarded with its registry slot and timer-heap
  // place (stack_pool.hpp): after thousands of failures, from outside and
  // from a worker, nothing is registered (a debug build also asserts that
  // no slot is given back twice) and go() works again.
  for (std::size_t workers : {1u, 2u}) {
    goro::runtime_options o;
    o.workers = workers;
    goro::runtime rt(o);
    std::atomic<bool> fail{true};
    std::atomic<int> ran{0};
    const copy_may_throw fn(&fail, &ran);
    int refused = 0;
    for (int i = 0; i < 3000; ++i) {
      try {
        rt.go(fn);  // from outside the workers
      } catch (const std::runtime_error&) {
        ++refused;
      }
    }
    rt.go([&refused, &fn] {  // from a worker
      for (int i = 0; i < 3000; ++i) {
        try {
          goro::go(fn);
        } catch (const std::runtime_error&) {
          ++refused;
        }
      }
    });
    rt.wait();
    CHECK(refused == 6000);
    CHECK(ran.load() == 0);
    CHECK(rt.num_goroutines() == 0);
    std::ostringstream dump;
    rt.dump_goroutines(dump);
    CHECK(dump.str().empty());
    fail.store(false);
    for (int i = 0; i < 100; ++i) rt.go(fn);
    rt.wait();
    CHECK(ran.load() == 100);
  }
}

TEST_CASE("runtime: goroutines parked inside catch blocks keep their own exceptions",
          "[runtime][exceptions]") {
  // One worker, so the two goroutines interleave on one thread: each parks
  // in its handler while the other throws and catches.
  goro::runtime rt(workers(1, kStack));
  failures f;
  goro::mutex turn;  // a parks on it (inside its handler) until b is done throwing
  std::vector<std::string> log;
  std::mutex log_m;
  auto note = [&](std::string s) {
    std::lock_guard<std::mutex> lock(log_m);
    log.push_back(std::move(s));
  };
  turn.lock();
  rt.go([&] {
    try {
      throw std::runtime_error("a's");
    } catch (...) {
      note("a caught");
      turn.lock();  // parks until b unlocks it, from inside b's own handler
      EXPECT_IN_GOROUTINE(f, current_what() == "a's");
      goro::sleep_for(5ms);  // and again, on a timer, while b runs on
      EXPECT_IN_GOROUTINE(f, current_what() == "a's");
      turn.unlock();
      note("a done");
    }
    EXPECT_IN_GOROUTINE(f, std::current_exception() == nullptr);
  });
  rt.go([&] {
    EXPECT_IN_GOROUTINE(f, std::current_exception() == nullptr);
    try {
      throw std::runtime_error("b's");
    } catch (...) {
      note("b caught");
      turn.unlock();  // a may run now
      goro::sleep_for(1ms);
      EXPECT_IN_GOROUTINE(f, current_what() == "b's");
      try {
        throw std::logic_error("b's inner");
      } catch (...) {
        goro::yield();
        EXPECT_IN_GOROUTINE(f, current_what() == "b's inner");
      }
      EXPECT_IN_GOROUTINE(f, current_what() == "b's");
      note("b done");
    }
    EXPECT_IN_GOROUTINE(f, std::current_exception() == nullptr);
  });
  rt.wait();
  for (auto& failure : f.take()) FAIL_CHECK(failure);
  CHECK(log.size() == 4);
  CHECK(log[0] == "a caught");
  CHECK(log[1] == "b caught");
}

TEST_CASE("runtime: exception state follows goroutines that move between workers",
          "[runtime][exceptions]") {
  const int n = goro_test::scaled(200, 50);
  goro::runtime rt(workers(2, kStack));
  failures f;
  std::atomic<int> finished{0};
  for (int i = 0; i < n; ++i) {
    rt.go([&, i] {
      const std::string mine = "goroutine " + std::to_string(i);
      try {
        throw std::runtime_error(mine);
      } catch (...) {
        for (int k = 0; k < 20; ++k) {
          if (k % 5 == 4) {
            goro::sleep_for(1ms);
          } else {
            goro::yield();
          }
          if (current_what() != mine) {
            f.add(mine + " saw \"" + current_what() + "\"");
            break;
          }
        }
      }
      EXPECT_IN_GOROUTINE(f, std::current_exception() == nullptr);
      EXPECT_IN_GOROUTINE(f, std::uncaught_exceptions() == 0);
      finished.fetch_add(1);
    });
  }
  rt.wait();
  for (auto& failure : f.take()) FAIL_CHECK(failure);
  CHECK(finished.load() == n);
}

namespace {
/// Parks its goroutine from its destructor: in the middle of unwinding when
/// an exception passes through.
struct park_while_unwinding {
  int* seen;
  ~park_while_unwinding() {
    seen[0] = std::uncaught_exceptions();
    goro::sleep_for(2ms);
    seen[1] = std::uncaught_exceptions();
  }
};
}  // namespace

TEST_CASE("runtime: uncaught_exceptions() is per goroutine", "[runtime][exceptions]") {
  goro::runtime rt(workers(1, kStack));
  int seen_a[2] = {-1, -1}, seen_b[2] = {-1, -1};
  std::atomic<int> plain_seen{-1};
  auto unwinding = [](int* seen) {
    try {
      park_while_unwinding p{seen};
      throw std::runtime_error("in flight");
    } catch (const std::runtime_error&) {
    }
  };
  rt.go(unwinding, seen_a);
  rt.go(unwinding, seen_b);
  rt.go([&] { plain_seen = std::uncaught_exceptions(); });  // runs while both are mid-unwind
  rt.wait();
  CHECK(seen_a[0] == 1);
  CHECK(seen_a[1] == 1);
  CHECK(seen_b[0] == 1);
  CHECK(seen_b[1] == 1);
  CHECK(plain_seen.load() == 0);
}

TEST_CASE("runtime: the hello example", "[runtime][example]") {
#if !defined(GORO_EXAMPLES_DIR)
  WARN("GORO_EXAMPLES_DIR is not defined: the example is not checked");
#else
  const std::string program = std::string(GORO_EXAMPLES_DIR) + "/example_hello";
  if (!goro_test::file_exists(program)) {
    WARN("the examples are not built in this configuration (" << program << ")");
    return;
  }
  SECTION("with the sleep, the goroutine prints first") {
    const auto r = goro_test::run_program(program);
    INFO(r.describe());
    CHECK(r.succeeded());
    CHECK(r.out == "Hello Goroutine\nmain function ended\n");
  }
  SECTION("without it, main does not wait for the goroutine") {
    const auto r = goro_test::run_program(program, {"--no-sleep"});
    INFO(r.describe());
    CHECK(r.succeeded());
    // main ends the program as soon as it has printed. The goroutine starts
    // on another thread at once, so it may or may not print first: Go, too,
    // promises nothing here. If it prints while exit() flushes stdout, part
    // of its line may be lost (C's exit flushes without taking the lock).
    const std::string hello = "Hello Goroutine\n";
    const std::string ended = "main function ended\n";
    const bool hello_first = r.out == hello + ended;
    const bool ended_first =
        r.out.compare(0, ended.size(), ended) == 0 &&
        hello.compare(0, r.out.size() - ended.size(), r.out.substr(ended.size())) == 0;
    CHECK((hello_first || ended_first));
  }
#endif
}
