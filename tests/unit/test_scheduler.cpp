// The M:N scheduler under load: many goroutines, fork-join, goroutines
// started from many threads at once, work spreading over workers, timers
// waking in deadline order, and yield on a single worker.
#include "goro_test.hpp"
#include "run_program.hpp"
#include "test_helpers.hpp"

#include <absl/container/flat_hash_set.h>
#include <absl/random/random.h>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace goro_test;

/// Goroutine stacks for these tests: small, so that thousands fit under the sanitizers.
constexpr std::size_t kStack = 32 * 1024;

}  // namespace

TEST_CASE("scheduler: a million goroutines started from a goroutine", "[scheduler][many]") {
  const long n = goro_test::scaled(1000000L, 100000L, 3000L);
  goro::runtime rt(workers(2, kStack));
  std::atomic<long> ran{0};
  std::atomic<bool> spawner_saw_all{false};
  rt.go([&] {
    goro::wait_group wg;
    wg.add(n);
    for (long i = 0; i < n; ++i) {
      goro::go([&] {
        ran.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    spawner_saw_all = ran.load() == n;
  });
  rt.wait();
  CHECK(ran.load() == n);
  CHECK(spawner_saw_all.load());
  CHECK(rt.num_goroutines() == 0);
}

TEST_CASE("scheduler: 100,000 goroutines started from main, each run once", "[scheduler][many]") {
  const std::size_t n = goro_test::scaled<std::size_t>(100000, 20000, 3000);
  goro::runtime rt(workers(2, kStack));
  std::vector<std::uint64_t> ids(n, 0);
  std::vector<std::uint8_t> runs(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    rt.go([&ids, &runs, i] {
      ids[i] = goro::goroutine_id();
      ++runs[i];
    });
  }
  rt.wait();
  CHECK(std::count(runs.begin(), runs.end(), std::uint8_t{1}) == static_cast<std::ptrdiff_t>(n));
  absl::flat_hash_set<std::uint64_t> distinct(ids.begin(), ids.end());
  CHECK(distinct.size() == n);
  CHECK_FALSE(distinct.contains(0));
}

namespace {
/// A node of a fork-join tree: starts two children and waits for both.
/// Returns the leaves below it through `leaves`.
void fork_join(int depth, std::atomic<long>& leaves, std::atomic<long>& nodes) {
  nodes.fetch_add(1, std::memory_order_relaxed);
  if (depth == 0) {
    leaves.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  goro::wait_group wg;
  wg.add(2);
  for (int child = 0; child < 2; ++child) {
    goro::go([&wg, &leaves, &nodes, depth] {
      fork_join(depth - 1, leaves, nodes);
      wg.done();
    });
  }
  wg.wait();
}
}  // namespace

TEST_CASE("scheduler: a recursive fork-join tree", "[scheduler]") {
  // ThreadSanitizer counts each live goroutine as a thread (at most 8,128).
  const int depth = goro_test::scaled(14, 12, 9);
  goro::runtime rt(workers(2, kStack));
  std::atomic<long> leaves{0}, nodes{0};
  rt.go([&] { fork_join(depth, leaves, nodes); });
  rt.wait();
  CHECK(leaves.load() == (1L << depth));
  CHECK(nodes.load() == (2L << depth) - 1);
}

TEST_CASE("scheduler: several threads start goroutines while every worker is busy",
          "[scheduler][threads]") {
  constexpr std::size_t n_workers = 2;
  constexpr int threads = 4;
  const int per_thread = goro_test::scaled(10000, 2000, 500);
  goro::runtime_options options = workers(n_workers, kStack);
  options.spare_workers = 0;  // else a spare would run them while the workers are held
  goro::runtime rt(options);
  // Occupy every worker: goroutines that never block hold their workers.
  std::atomic<int> busy{0};
  std::atomic<bool> release{false};
  for (std::size_t i = 0; i < n_workers; ++i) {
    rt.go([&] {
      busy.fetch_add(1);
      while (!release.load()) std::this_thread::yield();  // the thread's, not goro's
    });
  }
  while (busy.load() != static_cast<int>(n_workers)) std::this_thread::yield();

  std::atomic<long> ran{0};
  std::vector<std::thread> starters;
  for (int t = 0; t < threads; ++t) {
    starters.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) rt.go([&] { ran.fetch_add(1); });
    });
  }
  for (auto& t : starters) t.join();
  // Nothing could run yet: both workers are held.
  CHECK(ran.load() == 0);
  CHECK(rt.num_goroutines() == n_workers + static_cast<std::size_t>(threads * per_thread));
  release = true;
  rt.wait();
  CHECK(ran.load() == threads * per_thread);
}

TEST_CASE("scheduler: a goroutine started by a busy one runs on another worker", "[scheduler]") {
  // The started goroutine waits in the next-to-run slot of a worker whose
  // goroutine does not give it up (a busy wait here); an idle worker must
  // take it from there. A worker that goes to sleep after checking the other
  // workers' queues, but not that slot, strands it. Between rounds the
  // parent sleeps, so that the other worker idles and is woken again.
  const int rounds = goro_test::scaled(2000, 1000, 300);
  goro::runtime rt(workers(2, kStack));
  std::atomic<int> stranded{0}, completed{0};
  rt.go([&] {
    for (int i = 0; i < rounds && stranded.load() == 0; ++i) {  // one stranding is enough
      std::atomic<bool> ran{false};
      goro::go([&ran] { ran = true; });
      // A liveness bound, not a speed test: an idle worker takes the child
      // within microseconds; a stranded child waits until the parent yields.
      const auto give_up = std::chrono::steady_clock::now() + 2s;
      while (!ran.load()) {
        if (std::chrono::steady_clock::now() > give_up) {
          stranded.fetch_add(1);
          break;
        }
      }
      while (!ran.load()) goro::yield();  // let it run here, so the test goes on
      completed.fetch_add(1);
      goro::sleep_for(300us);
    }
  });
  rt.wait();
  CHECK(stranded.load() == 0);
  if (stranded.load() == 0) CHECK(completed.load() == rounds);
}

TEST_CASE("scheduler: work spreads over the workers", "[scheduler]") {
  constexpr std::size_t n_workers = 2;
  goro::runtime_options options = workers(n_workers, kStack);
  // Counting threads: no spare (which an overloaded machine, descheduling
  // both workers for 20 ms, could bring in).
  options.spare_workers = 0;
  goro::runtime rt(options);
  std::mutex m;
  std::set<std::thread::id> threads_seen;
  std::atomic<int> arrived{0}, finished{0};
  constexpr int n = 64;
  for (int i = 0; i < n; ++i) {
    rt.go([&, i] {
      std::set<std::thread::id> mine{thread_id_now()};
      // The first goroutine holds its worker (a busy wait, not a goro wait)
      // until a second one has started: only another worker can run that one.
      arrived.fetch_add(1);
      while (arrived.load() < 2) std::this_thread::yield();
      for (int k = 0; k < 20; ++k) {
        // A little work, then give the worker up: by sleeping or yielding.
        volatile std::uint64_t x = 0;
        for (int j = 0; j < 2000; ++j) x = x + static_cast<std::uint64_t>(j);
        if ((i + k) % 3 == 0) {
          goro::sleep_for(100us);
        } else {
          goro::yield();
        }
        mine.insert(thread_id_now());
      }
      std::lock_guard<std::mutex> lock(m);
      threads_seen.insert(mine.begin(), mine.end());
      finished.fetch_add(1);
    });
  }
  rt.wait();
  CHECK(finished.load() == n);
  CHECK(threads_seen.size() == n_workers);
  CHECK(threads_seen.count(std::this_thread::get_id()) == 0);  // never on main
}

TEST_CASE("scheduler: the timer heap gives deadlines in order", "[scheduler][timers]") {
  using goro::detail::timer_heap;
  using goro::detail::timer_node;
  using clock = goro::detail::steady_clock;
  timer_heap heap;
  CHECK(heap.empty());
  CHECK(heap.earliest() == clock::time_point::max());
  absl::BitGen rng = seeded_bitgen();
  const auto base = clock::now();
  constexpr int n = 500;
  std::vector<timer_node> nodes(n);
  for (int i = 0; i < n; ++i) {
    // Few distinct deadlines: many ties, which go in arming order.
    nodes[i].when = base + std::chrono::milliseconds(absl::Uniform(rng, 0, 50));
    nodes[i].arg = &nodes[i];
    heap.reserve_slot();  // as go() and timers do: arming then never allocates
    heap.add(&nodes[i]);
  }
  // Disarm a random third; disarming twice says it was not armed.
  std::vector<bool> removed(n, false);
  for (int i = 0; i < n; ++i) {
    if (absl::Bernoulli(rng, 1.0 / 3)) {
      CHECK(heap.remove(&nodes[i]));
      CHECK_FALSE(heap.remove(&nodes[i]));
      removed[i] = true;
    }
  }
  clock::time_point earliest = clock::time_point::max();
  for (int i = 0; i < n; ++i) {
    if (!removed[i]) earliest = std::min(earliest, nodes[i].when);
  }
  CHECK(heap.earliest() == earliest);
  // Due at +25 ms: exactly those, in (deadline, arming) order.
  std::vector<timer_node*> due;
  heap.take_due(base + 25ms, due);
  std::vector<timer_node*> expected;
  for (int i = 0; i < n; ++i) {
    if (!removed[i] && nodes[i].when <= base + 25ms) expected.push_back(&nodes[i]);
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](const timer_node* a, const timer_node* b) { return a->when < b->when; });
  CHECK(due == expected);
  due.clear();
  heap.take_due(clock::time_point::max(), due);
  bool sorted =
      std::is_sorted(due.begin(), due.end(), [](const timer_node* a, const timer_node* b) {
        return a->when < b->when || (a->when == b->when && a < b);
      });
  CHECK(sorted);
  CHECK(heap.empty());
  std::size_t armed = 0;
  for (int i = 0; i < n; ++i) armed += removed[i] ? 0 : 1;
  CHECK(expected.size() + due.size() == armed);
}

TEST_CASE("scheduler: sleeping goroutines wake in deadline order", "[scheduler][timers]") {
  // Deadlines far enough apart that a worker is seldom late enough to find
  // two of them due at once (their order is then the scheduler's choice).
  const auto step = goro_test::scaled(10ms, 40ms);
  for (std::size_t n_workers : {std::size_t{1}, std::size_t{2}}) {
    INFO(n_workers << " worker(s)");
    goro::runtime rt(workers(n_workers, kStack));
    goro::mutex m;
    std::vector<int> order;
    std::vector<goro::clock::time_point> deadlines(5), woke(5);
    goro::wait_group ready, go_now;
    ready.add(5);
    go_now.add(1);
    for (int i = 0; i < 5; ++i) {
      const auto d = step * (5 - i);  // 50, 40, 30, 20, 10 (x step/10ms)
      rt.go([&, i, d] {
        ready.done();
        go_now.wait();  // all start together, so deadlines follow sleep lengths
        deadlines[i] = goro::clock::now() + d;
        goro::sleep_until(deadlines[i]);
        woke[i] = goro::clock::now();
        std::lock_guard<goro::mutex> lock(m);
        order.push_back(i);
      });
    }
    ready.wait();
    go_now.done();
    rt.wait();
    REQUIRE(order.size() == 5);
    const auto t0 = *std::min_element(deadlines.begin(), deadlines.end());
    for (int i = 0; i < 5; ++i) {
      using us = std::chrono::microseconds;
      UNSCOPED_INFO("goroutine " << i << ": deadline +"
                                 << std::chrono::duration_cast<us>(deadlines[i] - t0).count()
                                 << " us, woke +"
                                 << std::chrono::duration_cast<us>(woke[i] - t0).count() << " us");
    }
    for (int i = 0; i < 5; ++i) CHECK(woke[i] >= deadlines[i]);  // never early
    // In deadline order, except where the machine made a worker late: a
    // goroutine resumed only after a later deadline had passed too was due
    // together with that one, and then either may run first.
    for (std::size_t k = 1; k < order.size(); ++k) {
      const int before = order[k - 1], after = order[k];
      INFO("woke " << before << " then " << after);
      CHECK((deadlines[before] <= deadlines[after] || woke[after] >= deadlines[before]));
    }
  }
}

TEST_CASE("scheduler: yield alternates two goroutines on one worker", "[scheduler][yield]") {
  goro::runtime rt(workers(1, kStack));
  constexpr int rounds = 1000;
  std::vector<char> trace;
  trace.reserve(2 * rounds);
  // Started together from a goroutine, so both are queued before either runs.
  rt.go([&] {
    for (char who : {'a', 'b'}) {
      goro::go([&trace, who] {
        for (int r = 0; r < rounds; ++r) {
          trace.push_back(who);
          goro::yield();
        }
      });
    }
  });
  rt.wait();
  REQUIRE(trace.size() == 2u * rounds);
  std::size_t repeats = 0;
  for (std::size_t i = 1; i < trace.size(); ++i) repeats += trace[i] == trace[i - 1] ? 1 : 0;
  CHECK(repeats == 0);
}

TEST_CASE("scheduler: yield lets a waiting goroutine on one worker see progress",
          "[scheduler][yield]") {
  goro::runtime rt(workers(1, kStack));
  std::atomic<bool> flag{false};
  std::atomic<long> spins{0};
  rt.go([&] {
    while (!flag.load()) {  // would hold the only worker forever without yield
      spins.fetch_add(1);
      goro::yield();
    }
  });
  rt.go([&] { flag = true; });
  rt.wait();
  CHECK(flag.load());
  CHECK(spins.load() >= 1);
}

TEST_CASE("scheduler: a goroutine that starts many more keeps memory bounded", "[scheduler]") {
  // One worker: the spawner's queue overflows, and it lets the queued
  // goroutines run instead of piling up stacks for all of them.
  const long n = goro_test::scaled(200000L, 50000L, 3000L);
  goro::runtime rt(workers(1, kStack));
  std::atomic<long> ran{0};
  std::atomic<std::size_t> most_alive{0};
  rt.go([&] {
    for (long i = 0; i < n; ++i) {
      goro::go([&] { ran.fetch_add(1, std::memory_order_relaxed); });
      if (i % 1024 == 0) {
        std::size_t alive = goro::num_goroutines();
        if (alive > most_alive.load()) most_alive = alive;
      }
    }
  });
  rt.wait();
  CHECK(ran.load() == n);
  INFO("most goroutines alive at once: " << most_alive.load());
  CHECK(most_alive.load() < static_cast<std::size_t>(n) / 4);
}

namespace {

/// On one worker, A and B hand the worker back and forth (a_step: A's half
/// of a round; b_loop: B's whole life, ended by end_pair) while C, yielded
/// into the local queue behind them, waits. Each hand-off readies the other
/// into runnext, which a pick takes before the local queue. Returns whether
/// C ran before A gave up (after 20 s: the rule below takes ~10 ms).
template <class AStep, class BLoop, class EndPair>
bool third_runs_beside_pair(AStep a_step, BLoop b_loop, EndPair end_pair) {
  goro::runtime rt(workers(1, kStack));
  std::atomic<bool> c_done{false};
  std::atomic<bool> gave_up{false};
  std::atomic<long> rounds{0};
  long c_ran_at = -1;
  rt.go([&] {  // A
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!c_done.load()) {
      a_step();
      if ((rounds.fetch_add(1) & 1023) == 0 && std::chrono::steady_clock::now() > limit) {
        gave_up = true;
        break;
      }
    }
    end_pair();
  });
  rt.go(b_loop);  // B
  rt.go([&] {     // C: a few yields put it in the local queue behind the pair
    for (int i = 0; i < 3; ++i) goro::yield();
    c_ran_at = rounds.load();
    c_done = true;
  });
  rt.wait();
  INFO("C ran after round " << c_ran_at);
  return c_done.load() && !gave_up.load();
}

}  // namespace

TEST_CASE("scheduler: a ping-pong pair through runnext does not starve the local queue",
          "[scheduler][fairness]") {
  // The pair meets preemption points (channel operations): once the monitor
  // ends its shared 10 ms slice, the goroutine running yields to the back of
  // the local queue, behind C.
  auto ping = goro::make_chan<int>();
  auto pong = goro::make_chan<int>();
  CHECK(third_runs_beside_pair(
      [&] {
        ping.send(1);
        (void)pong.recv();
      },
      [&] {
        for (int v : ping) pong.send(v);
      },
      [&] { ping.close(); }));
}

TEST_CASE("scheduler: a pair handing off through semaphores does not starve the local queue",
          "[scheduler][fairness]") {
  // The pair meets no preemption point (a semaphore's acquire and release
  // have none), so the monitor's request is never acted on by the goroutine
  // itself: once the slice is over, the worker's pick must take the local
  // queue before runnext (fails without that rule: C waits out the 20 s).
  goro::semaphore to_b(0);
  goro::semaphore to_a(0);
  std::atomic<bool> stop{false};
  CHECK(third_runs_beside_pair(
      [&] {
        to_b.release();
        to_a.acquire();
      },
      [&] {
        for (;;) {
          to_b.acquire();
          if (stop.load()) break;
          to_a.release();
        }
      },
      [&] {
        stop = true;
        to_b.release();
      }));
}

TEST_CASE("scheduler: a ping-pong pair stays on its worker while another one idles",
          "[scheduler][runnext]") {
  // Each hand-off readies the partner into the runnext slot of the worker
  // it runs on; the idle worker's thief must leave that slot to its owner,
  // who takes it a few nanoseconds later, whether or not a goroutine runs
  // there at the instant the thief looks. Moving the pair costs a
  // cache-cold start on the other worker (and its futex wake-ups).
  //
  // A move is right when the owner stalls (its thread preempted, on a
  // loaded machine or by the hypervisor): the thief takes the slot after
  // the owner picked nothing for the whole of the thief's sleep, at least
  // 3 us. So only a move in a round trip shorter than that counts against
  // the rule. A thief that respected the slot only while a goroutine ran
  // there made 48-67 moves in 200,000 round trips, nearly all of them in
  // round trips shorter than 3 us (0 now).
  goro::runtime rt(workers(2, kStack));
  auto ping = goro::make_chan<int>();
  auto pong = goro::make_chan<int>();
  const long rounds = goro_test::under_sanitizer() ? 20000 : 200000;
  long moves = 0;
  long unstalled_moves = 0;
  rt.go([&] {
    for (int v : ping) pong.send(v);
  });
  rt.go([&] {
    // Settle first: the pair starts split (the idle worker stole one of
    // the two at their spawn) and meets on one worker at its first hand-off.
    for (int i = 0; i < 100; ++i) {
      ping.send(i);
      (void)pong.recv();
    }
    const goro::detail::worker* was = goro::detail::current_worker_slot();
    auto last = std::chrono::steady_clock::now();
    for (long i = 0; i < rounds; ++i) {
      ping.send(1);
      (void)pong.recv();
      const auto now = std::chrono::steady_clock::now();
      const goro::detail::worker* here = goro::detail::current_worker_slot();
      if (here != was) {
        ++moves;
        if (now - last < std::chrono::microseconds(3)) ++unstalled_moves;
      }
      was = here;
      last = now;
    }
    ping.close();
  });
  rt.wait();
  INFO(moves << " moves in " << rounds << " round trips, " << unstalled_moves
             << " of them in a round trip shorter than 3 us");
  CHECK(unstalled_moves <= 5);
}

namespace {

/// Drives a runnext slot directly: one owner thread puts and takes, two
/// thieves steal all the while. Every goroutine put must come out exactly
/// once, by the owner or by a thief: none lost (a steal racing a put) and
/// none twice (a take racing a steal). The slot never dereferences what it
/// holds, so the "goroutines" are addresses of counters.
void drive_runnext(bool handshake) {
  struct cell {
    std::atomic<int> out{0};
  };
  const int puts = goro_test::scaled(200000, 20000, 5000);
  std::vector<cell> cells(static_cast<std::size_t>(puts));
  auto as_g = [&](int i) {
    return reinterpret_cast<goro::detail::goroutine*>(&cells[static_cast<std::size_t>(i)]);
  };
  auto count = [](goro::detail::goroutine* g) {
    if (g != nullptr) reinterpret_cast<cell*>(g)->out.fetch_add(1, std::memory_order_relaxed);
  };
  goro::detail::runnext_slot slot(handshake);
  std::atomic<bool> done{false};
  std::atomic<long> stolen{0};
  std::vector<std::thread> thieves;
  for (int t = 0; t < 2; ++t) {
    thieves.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        if (goro::detail::goroutine* g = slot.steal()) {
          count(g);
          stolen.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (int i = 0; i < puts; ++i) {
    count(slot.put(as_g(i)));  // the kicked-out occupant goes elsewhere: counted
    if (i % 3 == 0) count(slot.take());
  }
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  count(slot.take());
  int lost = 0, twice = 0;
  for (auto& c : cells) {
    const int n = c.out.load(std::memory_order_relaxed);
    if (n == 0) ++lost;
    if (n > 1) ++twice;
  }
  INFO("puts " << puts << ", stolen " << stolen.load());
  CHECK(lost == 0);
  CHECK(twice == 0);
  CHECK(slot.peek() == nullptr);
}

}  // namespace

TEST_CASE("scheduler: runnext's slot, driven directly, with the membarrier handshake",
          "[scheduler]") {
  INFO("membarrier available: " << goro::detail::asymmetric_fence::expedited());
  drive_runnext(goro::detail::asymmetric_fence::expedited());
}

TEST_CASE("scheduler: runnext's slot, driven directly, with exchanges", "[scheduler]") {
  drive_runnext(false);
}

#if defined(GORO_TSAN_FIBER_REUSE) && !defined(__clang__)
// Counts the TSan fibers goro creates. Under GCC the TSan runtime is a shared
// library, so this definition takes the place of its __tsan_create_fiber for
// the calls in this program, and forwards to it.
namespace {
std::atomic<long> tsan_fibers_created{0};

// One worker, so that one thread's fiber cache serves every goroutine; and
// not even a spare worker (the monitor starts one when the worker seems
// stuck, which TSan's slowness can look like): it would have a cache of its own.
goro::runtime_options one_worker_no_spares() {
  goro::runtime_options o;
  o.workers = 1;
  o.spare_workers = 0;
  return o;
}
}  // namespace

extern "C" void* __tsan_create_fiber(unsigned flags) {
  using create_fn = void* (*)(unsigned);
  static const auto real = reinterpret_cast<create_fn>(dlsym(RTLD_NEXT, "__tsan_create_fiber"));
  if (real == nullptr) std::abort();
  tsan_fibers_created.fetch_add(1, std::memory_order_relaxed);
  return real(flags);
}

TEST_CASE("scheduler: under ThreadSanitizer a finished goroutine's fiber serves the next one",
          "[scheduler][tsan]") {
  goro::runtime rt(one_worker_no_spares());
  constexpr long children = 200;
  std::atomic<long> created_meanwhile{-1};
  rt.go([&created_meanwhile] {
    const long before = tsan_fibers_created.load();
    // One at a time, and each child gone before the next starts: its fiber
    // goes back to the worker's cache before num_goroutines() drops. The
    // receive alone does not ensure it: when this goroutine is preempted
    // between go() and recv(), the child blocks in send, the receive readies
    // it, and without the wait the next child would start while it lives (a
    // full CI run saw 2 fibers so).
    for (long i = 0; i < children; ++i) {
      auto done = goro::make_chan<int>();
      goro::go([done] { done.send(1); });
      done.recv();
      while (goro::num_goroutines() > 1) goro::yield();
    }
    created_meanwhile.store(tsan_fibers_created.load() - before);
  });
  rt.wait();
  INFO("TSan fibers created for " << children << " goroutines: " << created_meanwhile.load());
  CHECK(created_meanwhile.load() >= 0);
  CHECK(created_meanwhile.load() <= 1);
}

TEST_CASE("scheduler: under ThreadSanitizer goroutines started from outside reuse fibers too",
          "[scheduler][tsan]") {
  // go() from a thread that runs no goroutine: the fiber is taken on the
  // worker where the goroutine first runs, from the cache its predecessor's
  // fiber went back to. (Taken in go(), on this thread, each would be new.)
  goro::runtime rt(one_worker_no_spares());
  constexpr long children = 200;
  const long before = tsan_fibers_created.load();
  for (long i = 0; i < children; ++i) {
    rt.go([] {});
    rt.wait();  // its fiber is back in the worker's cache before wait() returns
  }
  const long created = tsan_fibers_created.load() - before;
  INFO("TSan fibers created for " << children << " goroutines: " << created);
  CHECK(created <= 1);
}
#endif

#if defined(GORO_TSAN)
TEST_CASE("scheduler: a ThreadSanitizer report after thousands of goroutines shows clean stacks",
          "[scheduler][tsan]") {
  const auto r = goro_test::run_program(goro_test::program_path("tsan_race_report"));
  INFO(r.describe());
  REQUIRE(goro_test::contains(r.out, "goroutines 3000"));
  REQUIRE(goro_test::contains(r.err, "WARNING: ThreadSanitizer: data race"));
  CHECK(goro_test::contains(r.err, "racy_write_first"));
  CHECK(goro_test::contains(r.err, "racy_write_second"));
  // The racing goroutines are named after their ids.
  CHECK(goro_test::contains(r.err, "'goroutine "));
  // No frame a finished goroutine could leave on a reused fiber (each of
  // the thousands before would add its own), and no stack deeper than the
  // racing or creating goroutine's own: 13 and 17 frames with GCC 12, most of
  // them std::invoke and goro::go's wrappers inlined into goroutine::entry.
  CHECK_FALSE(goro_test::contains(r.err, "context::start"));
  CHECK_FALSE(goro_test::contains(r.err, "exit_to"));
  std::size_t deepest = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    const auto hash = line.find('#');
    if (hash == std::string::npos || line.find_first_not_of(' ') != hash) continue;
    deepest =
        std::max<std::size_t>(deepest, std::strtoul(line.c_str() + hash + 1, nullptr, 10) + 1);
  }
  CHECK(deepest > 0);
  CHECK(deepest <= 24);
}
#endif
