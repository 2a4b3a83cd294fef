// goro's sync primitives (mutex, semaphore, wait_group, call_once) with
// goroutines and plain threads: mutual exclusion under contention, many
// waiters at once, bounds, misuse (negative counters, unlocking an unlocked
// mutex), and call_once's once-and-retry rules; and the internal spin_lock
// under them.
#include "goro_test.hpp"
#include "run_program.hpp"
#include "test_helpers.hpp"

#include <absl/random/random.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace goro_test;

/// Goroutine stacks for these tests: small, so that thousands fit under the sanitizers.
constexpr std::size_t kStack = 32 * 1024;

/// Raises `most` to at least `value`.
void raise_to(std::atomic<int>& most, int value) {
  int seen = most.load();
  while (value > seen && !most.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

TEST_CASE("mutex: no lost update under contention from 1,000 goroutines and threads",
          "[sync][mutex]") {
  const int goroutines = goro_test::scaled(1000, 300, 200);
  const int iterations = goro_test::scaled(50, 20, 10);
  constexpr int threads = 2;
  goro::runtime rt(workers(4, kStack));
  goro::mutex m;
  long counter = 0;  // guarded by m; read-yield-write makes a lost update likely without it
  std::atomic<int> inside{0}, most_inside{0};
  // goro::yield on a plain thread yields the thread.
  auto critical_section = [&](absl::BitGen& rng) {
    std::lock_guard<goro::mutex> lock(m);
    raise_to(most_inside, inside.fetch_add(1) + 1);
    const long read = counter;
    if (absl::Bernoulli(rng, 0.5)) goro::yield();  // still holding the lock
    counter = read + 1;
    inside.fetch_sub(1);
  };
  for (int g = 0; g < goroutines; ++g) {
    rt.go([&] {
      absl::BitGen rng = seeded_bitgen();
      for (int i = 0; i < iterations; ++i) critical_section(rng);
    });
  }
  std::vector<std::thread> plain;
  for (int t = 0; t < threads; ++t) {
    plain.emplace_back([&] {
      absl::BitGen rng = seeded_bitgen();
      for (int i = 0; i < iterations * 10; ++i) critical_section(rng);
    });
  }
  for (auto& t : plain) t.join();
  rt.wait();
  std::lock_guard<goro::mutex> lock(m);
  CHECK(counter == static_cast<long>(goroutines) * iterations + threads * iterations * 10);
  CHECK(most_inside.load() == 1);
}

// goro's internal lock (channels, wait lists, the global queue): its backoff
// and its yield after the spin budget must never let two holders in.
TEST_CASE("spin_lock: no lost update, also when the holder outlasts the spin budget",
          "[sync][spin_lock]") {
  goro::detail::spin_lock lock;
  std::uint64_t counter = 0;  // plain, not atomic: a second holder loses updates
  constexpr int threads = 4;
  constexpr int rounds = 20000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard<goro::detail::spin_lock> guard(lock);
        const std::uint64_t seen = counter;
        // Now and then hold the lock far longer than spin_budget pauses, so
        // the waiters back off to their longest pause and then yield.
        if (t == 0 && i % 1000 == 0) std::this_thread::sleep_for(300us);
        counter = seen + 1;
      }
    });
  }
  for (auto& th : pool) th.join();
  REQUIRE(counter == std::uint64_t{threads} * rounds);
  REQUIRE(lock.try_lock());
  REQUIRE_FALSE(lock.try_lock());
  lock.unlock();
}

TEST_CASE("mutex: try_lock, and std::unique_lock", "[sync][mutex]") {
  goro::mutex m;
  CHECK(m.try_lock());
  CHECK_FALSE(m.try_lock());
  m.unlock();
  {
    std::unique_lock<goro::mutex> lock(m);
    CHECK(lock.owns_lock());
    CHECK_FALSE(m.try_lock());
    lock.unlock();
    CHECK(m.try_lock());
    m.unlock();
  }
  // A goroutine blocked on it is handed the lock when a thread unlocks.
  goro::runtime rt(workers(1, kStack));
  std::atomic<bool> trying{false}, got{false};
  m.lock();
  rt.go([&] {
    trying = true;
    m.lock();
    got = true;
    m.unlock();
  });
  while (!trying.load()) std::this_thread::yield();
  // Give it time to get from `trying` into m.lock() and park there, so that
  // the unlock below is a hand-off to a parked goroutine.
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(got.load());  // we hold the lock
  m.unlock();
  rt.wait();
  CHECK(got.load());
}

TEST_CASE("sync: 10,000 goroutines blocked at once on two workers", "[sync][many]") {
  // TSan: every goroutine alive at once is a TSan fiber of its own (4 ms
  // each on the CI host of 2026-12-01: 8 s a section at 2,000).
  const int n = goro_test::scaled(10000, 4000, 1000);
  goro::runtime rt(workers(2, kStack));
  goro::wait_group started;

  SECTION("on a wait_group") {
    goro::wait_group gate;
    gate.add(1);
    std::atomic<int> through{0};
    started.add(n);
    for (int i = 0; i < n; ++i) {
      rt.go([&] {
        started.done();
        gate.wait();
        through.fetch_add(1);
      });
    }
    started.wait();
    CHECK(through.load() == 0);
    gate.done();
    rt.wait();
    CHECK(through.load() == n);
  }
  SECTION("on a semaphore") {
    goro::semaphore sem(0);
    std::atomic<int> through{0};
    started.add(n);
    for (int i = 0; i < n; ++i) {
      rt.go([&] {
        started.done();
        sem.acquire();
        through.fetch_add(1);
      });
    }
    started.wait();
    CHECK(through.load() == 0);
    for (int i = 0; i < n; ++i) sem.release();
    rt.wait();
    CHECK(through.load() == n);
    CHECK_FALSE(sem.try_acquire());  // every permit went to a waiter
  }
  SECTION("on a mutex") {
    goro::mutex m;
    long counter = 0;
    started.add(n);
    m.lock();
    for (int i = 0; i < n; ++i) {
      rt.go([&] {
        started.done();
        std::lock_guard<goro::mutex> lock(m);
        ++counter;
      });
    }
    started.wait();
    CHECK(rt.num_goroutines() == static_cast<std::size_t>(n));
    m.unlock();
    rt.wait();
    std::lock_guard<goro::mutex> lock(m);
    CHECK(counter == n);
  }
}

TEST_CASE("semaphore: never more holders than permits", "[sync][semaphore]") {
  constexpr int permits = 3;
  const int n = goro_test::scaled(300, 100);
  goro::runtime rt(workers(4, kStack));
  goro::semaphore sem(permits);
  std::atomic<int> holders{0}, most{0}, done{0};
  const auto peak_deadline = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; i < n; ++i) {
    rt.go([&, i] {
      for (int k = 0; k < 5; ++k) {
        sem.acquire();
        raise_to(most, holders.fetch_add(1) + 1);
        // Keep the permit until every permit has been held at once (bounded
        // by one deadline for all), so that the peak is reached however the
        // goroutines are scheduled: left to chance, a slow machine under TSan
        // once peaked at 2 of 3.
        while (most.load() < permits && std::chrono::steady_clock::now() < peak_deadline) {
          goro::sleep_for(100us);
        }
        if ((i + k) % 4 == 0) {
          goro::sleep_for(200us);
        } else {
          goro::yield();
        }
        holders.fetch_sub(1);
        sem.release();
      }
      done.fetch_add(1);
    });
  }
  rt.wait();
  CHECK(done.load() == n);
  // The first holders wait for each other with their permits: all permits
  // get used at once (a semaphore acting as a mutex would stop at 1, after
  // the bounded wait), and never more.
  CHECK(most.load() == permits);
  // All permits are back.
  for (int i = 0; i < permits; ++i) CHECK(sem.try_acquire());
  CHECK_FALSE(sem.try_acquire());
}

TEST_CASE("semaphore: construction and try_acquire", "[sync][semaphore]") {
  CHECK_THROWS_AS(goro::semaphore(-1), std::invalid_argument);
  goro::semaphore none(0);
  CHECK_FALSE(none.try_acquire());
  none.release();
  CHECK(none.try_acquire());
  goro::semaphore two(2);
  CHECK(two.try_acquire());
  CHECK(two.try_acquire());
  CHECK_FALSE(two.try_acquire());
  two.release();
  CHECK(two.try_acquire());
}

TEST_CASE("call_once: many goroutines, one call; the others wait for it", "[sync][once]") {
  const int n = goro_test::scaled(1000, 300);
  goro::runtime rt(workers(4, kStack));
  goro::once_flag flag;
  std::atomic<int> calls{0}, saw_result{0};
  int result = 0;  // written by the one call, read by all after call_once returns
  for (int i = 0; i < n; ++i) {
    rt.go([&] {
      goro::call_once(flag, [&] {
        calls.fetch_add(1);
        goro::sleep_for(5ms);  // the others arrive meanwhile and must wait
        result = 42;
      });
      if (result == 42) saw_result.fetch_add(1);
    });
  }
  rt.wait();
  CHECK(calls.load() == 1);
  CHECK(saw_result.load() == n);
  goro::call_once(flag, [&] { calls.fetch_add(1); });  // from a thread too: already done
  CHECK(calls.load() == 1);
}

TEST_CASE("call_once: a call that throws leaves the flag unset", "[sync][once]") {
  goro::once_flag flag;
  int calls = 0;
  CHECK_THROWS_AS(goro::call_once(flag,
                                  [&] {
                                    ++calls;
                                    throw std::runtime_error("first try fails");
                                  }),
                  std::runtime_error);
  CHECK(calls == 1);
  goro::call_once(
      flag, [&](int add) { calls += add; }, 10);  // retried, with arguments
  CHECK(calls == 11);
  goro::call_once(flag, [&] { calls += 100; });
  CHECK(calls == 11);

  // The same from goroutines: the first few attempts throw; exactly one succeeds.
  goro::runtime rt(workers(2, kStack));
  goro::once_flag shared;
  std::atomic<int> attempts{0}, successes{0}, exceptions{0}, after{0};
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) {
    rt.go([&] {
      try {
        goro::call_once(shared, [&] {
          const int attempt = attempts.fetch_add(1);
          goro::yield();
          if (attempt < 3) throw std::runtime_error("not yet");
          successes.fetch_add(1);
        });
        after.fetch_add(1);
      } catch (const std::runtime_error&) {
        exceptions.fetch_add(1);
      }
    });
  }
  rt.wait();
  CHECK(attempts.load() == 4);
  CHECK(successes.load() == 1);
  CHECK(exceptions.load() == 3);
  CHECK(after.load() == n - 3);
}

TEST_CASE("wait_group: a negative counter throws and leaves it as it was", "[sync][wait_group]") {
  goro::wait_group wg;
  CHECK(wg.count() == 0);
  wg.wait();  // zero: returns at once
  CHECK_THROWS_AS(wg.done(), std::logic_error);
  CHECK(wg.count() == 0);
  wg.add(2);
  CHECK_THROWS_AS(wg.add(-3), std::logic_error);
  CHECK(wg.count() == 2);
  wg.done();
  wg.done();
  CHECK(wg.count() == 0);
  CHECK_THROWS_AS(wg.add(-1), std::logic_error);
  CHECK(wg.count() == 0);
  wg.wait();
}

TEST_CASE("wait_group: every waiter, goroutine or thread, is released", "[sync][wait_group]") {
  goro::runtime rt(workers(2, kStack));
  goro::wait_group wg, waiting;
  wg.add(3);
  std::atomic<int> released{0};
  constexpr int goroutine_waiters = 50, thread_waiters = 3;
  waiting.add(goroutine_waiters + thread_waiters);
  for (int i = 0; i < goroutine_waiters; ++i) {
    rt.go([&] {
      waiting.done();
      wg.wait();
      released.fetch_add(1);
    });
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < thread_waiters; ++i) {
    threads.emplace_back([&] {
      waiting.done();
      wg.wait();
      released.fetch_add(1);
    });
  }
  waiting.wait();
  CHECK(released.load() == 0);
  rt.go([&] { wg.done(); });
  wg.done();
  CHECK(released.load() == 0);  // one count still outstanding
  rt.go([&] {
    goro::sleep_for(1ms);
    wg.done();
  });
  for (auto& t : threads) t.join();
  rt.wait();
  CHECK(released.load() == goroutine_waiters + thread_waiters);
  CHECK(wg.count() == 0);
}

// Destruction right after use. std::mutex promises that a thread may lock a
// mutex, unlock it and destroy it while the thread that unlocked it before is
// still returning from unlock() (the reference-counted object holding its own
// mutex); Go's WaitGroup may go out of scope as soon as Wait returns. So the
// releasing side must not touch the object once the other side can proceed.
// A late touch is a use after free: AddressSanitizer and ThreadSanitizer
// report it; an uninstrumented build cannot see it.

TEST_CASE("wait_group: can be destroyed as soon as wait() returns",
          "[sync][wait_group][lifetime]") {
  // Ten times the rounds under AddressSanitizer, which reports a done()
  // that touches the freed group; elsewhere a slow run gains nothing from
  // them (under qemu the 200,000 rounds took 22 s).
  const int n = goro_test::config_has_tag("asan") ? 200000 : goro_test::scaled(20000, 20000, 2000);
  goro::runtime rt(workers(2, kStack));
  std::atomic<int> rounds{0};
  rt.go([&] {
    for (int i = 0; i < n; ++i) {
      auto* wg = new goro::wait_group;
      wg->add(1);
      goro::go([wg] { wg->done(); });  // runs on the other worker
      // Wait for the count to reach zero without parking (bounded, in case
      // the child cannot start while we hold this worker), then wait(). The
      // spin yields its thread now and then: on a loaded machine (two test
      // processes spinning on two cores) the other worker's thread may need
      // this CPU to run the child at all (without the yield, 37 s in CI).
      const auto give_up = std::chrono::steady_clock::now() + 1s;
      for (unsigned spins = 1; wg->count() != 0; ++spins) {
        if (spins % 64 == 0) std::this_thread::yield();
        if (spins % 1024 == 0 && std::chrono::steady_clock::now() > give_up) break;
      }
      wg->wait();  // returns at once once the count is zero
      delete wg;   // done() may not touch *wg any more
      rounds.fetch_add(1);
    }
  });
  rt.wait();
  CHECK(rounds.load() == n);
}

TEST_CASE("mutex: can be destroyed right after the last unlock, as std::mutex",
          "[sync][mutex][lifetime]") {
  const int n = goro_test::scaled(50000, 200000, 2000);
  goro::runtime rt(workers(2, kStack));
  std::atomic<int> rounds{0};
  rt.go([&] {
    for (int i = 0; i < n; ++i) {
      auto* m = new goro::mutex;
      m->lock();
      goro::go([m] { m->unlock(); });  // hands the lock over from the other worker
      m->lock();
      m->unlock();
      delete m;  // the other side's unlock() may not touch *m any more
      rounds.fetch_add(1);
    }
  });
  rt.wait();
  CHECK(rounds.load() == n);
}

TEST_CASE("mutex: unlocking an unlocked mutex is a fatal error", "[sync][mutex][death]") {
  for (const char* mode : {"thread", "goroutine", "twice"}) {
    INFO("mode " << mode);
    const auto r = goro_test::run_program(goro_test::program_path("mutex_unlock_unlocked"), {mode});
    INFO(r.describe());
    CHECK(r.signal == SIGABRT);
    CHECK_FALSE(goro_test::contains(r.out, "still alive"));
    CHECK(goro_test::contains(r.err, "goro: fatal error: sync: unlock of unlocked goro::mutex"));
  }
}
