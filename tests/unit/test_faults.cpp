// goro-test: labels=faults
//
// Fault injection (detail/fault_injection.hpp): the Nth stack mapping, guard
// install, worker thread start or allocation inside goro fails as if the
// system had refused. Each must give the documented error, leak nothing, and
// leave the runtime and every channel working with no value lost.
#define GORO_FAULT_INJECTION 1

#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <dirent.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

using goro::detail::fault::fail_nth;
using goro::detail::fault::injected;
using goro::detail::fault::site;

/// Disarms every site when a test ends, whatever happened.
struct disarm_all {
  ~disarm_all() {
    for (site s : {site::stack_map, site::stack_guard, site::thread_start, site::allocation,
                   site::shadow_stack})
      fail_nth(s, 0);
  }
};

std::size_t count_lines(const char* path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

/// The address ranges of /proc/self/maps.
std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mapped_ranges() {
  std::ifstream in("/proc/self/maps");
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> out;
  for (std::string line; std::getline(in, line);) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &lo, &hi) == 2) {
      out.emplace_back(static_cast<std::uintptr_t>(lo), static_cast<std::uintptr_t>(hi));
    }
  }
  return out;
}

/// Ranges mapped now that no range of `before` contains: a mapping added or
/// grown. A range split in two (ThreadSanitizer resets the shadow of unmapped
/// memory by remapping it, which splits its shadow mapping) is not counted.
std::size_t new_ranges(const std::vector<std::pair<std::uintptr_t, std::uintptr_t>>& before) {
  std::size_t n = 0;
  for (const auto& r : mapped_ranges()) {
    bool inside = false;
    for (const auto& b : before) inside = inside || (b.first <= r.first && r.second <= b.second);
    if (!inside) ++n;
  }
  return n;
}

std::size_t count_threads() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

/// The thread count once it has stopped changing: a thread joined by an
/// earlier test can linger in /proc for a moment (under qemu-user the guest's
/// join returns before the host thread is gone), which would make a baseline
/// one too high. Polls until five reads 5 ms apart agree, for at most 2 s.
std::size_t settled_thread_count() {
  std::size_t last = count_threads();
  for (int same = 0, i = 0; same < 5 && i < 400; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::size_t now = count_threads();
    same = now == last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/// Channels and goroutines still work on `rt`: producers and consumers move
/// `per * producers` distinct values through a buffered and an unbuffered
/// channel; every value arrives exactly once.
void check_runtime_works(goro::runtime& rt, int producers = 4, int per = 500) {
  auto buffered = goro::make_chan<int>(8);
  auto unbuffered = goro::make_chan<int>();
  auto results = goro::make_chan<std::vector<int>>(static_cast<std::size_t>(producers));
  for (int p = 0; p < producers; ++p)
    rt.go([=] {
      for (int i = 0; i < per; ++i) {
        const int v = p * per + i;
        if (i % 2 == 0)
          buffered.send(v);
        else
          unbuffered.send(v);
      }
    });
  for (int p = 0; p < producers; ++p)
    rt.go([=] {
      std::vector<int> got;
      for (int i = 0; i < per; ++i) {
        goro::select(goro::case_recv(buffered, [&](std::optional<int> v) { got.push_back(*v); }),
                     goro::case_recv(unbuffered, [&](std::optional<int> v) { got.push_back(*v); }));
      }
      results.send(std::move(got));
    });
  std::set<int> all;
  std::size_t total = 0;
  for (int p = 0; p < producers; ++p) {
    std::optional<std::vector<int>> got = results.recv();
    REQUIRE(got);
    total += got->size();
    all.insert(got->begin(), got->end());
  }
  rt.wait();
  CHECK(total == static_cast<std::size_t>(producers * per));
  CHECK(all.size() == static_cast<std::size_t>(producers * per));
}

goro::runtime_options with_workers(std::size_t n) {
  goro::runtime_options o;
  o.workers = n;
  return o;
}

}  // namespace

TEST_CASE("fault: a failed stack mapping makes go throw bad_alloc; nothing is lost") {
  disarm_all guard;
  goro::runtime rt(with_workers(2));
  const long before = injected(site::stack_map);

  // From a plain thread: the runtime's pool is empty, so go maps a batch.
  fail_nth(site::stack_map, 1);
  CHECK_THROWS_AS(rt.go([] {}), std::bad_alloc);
  CHECK(injected(site::stack_map) == before + 1);
  CHECK(rt.num_goroutines() == 0);

  // From a goroutine: it starts goroutines that wait on a gate until one go
  // fails (when its worker's pool runs dry and a batch must be mapped).
  auto gate = goro::make_chan<int>();
  auto out = goro::make_chan<int>(4096);
  std::atomic<int> started{0};
  std::atomic<bool> threw{false};
  rt.go([&, gate, out] {
    fail_nth(site::stack_map, 1);  // armed here: this goroutine's own start mapped
    for (int i = 0; i < 4000; ++i) {
      try {
        goro::go([i, gate, out] {
          gate.recv();
          out.send(i);
        });
        started.fetch_add(1);
      } catch (const std::bad_alloc&) {
        threw = true;
        break;
      }
    }
    gate.close();
  });
  rt.wait();
  CHECK(threw.load());
  CHECK(injected(site::stack_map) == before + 2);
  out.close();
  std::set<int> seen;
  for (int v : out) seen.insert(v);
  CHECK(seen.size() == static_cast<std::size_t>(started.load()));

  check_runtime_works(rt);
}

TEST_CASE("fault: a failed guard install makes go throw system_error and unmaps the whole batch") {
  disarm_all guard;
  goro::runtime rt(with_workers(1));
  rt.go([] {});  // settle the guard method and the runtime's own mappings
  rt.wait();
  goro::runtime fresh(with_workers(1));  // an empty pool: the next go maps a batch
  // Its worker and monitor threads start asynchronously and map what they
  // need (an alternate signal stack, a malloc arena): let them settle, or
  // their mappings would count as the batch's.
  std::size_t maps_before = count_lines("/proc/self/maps");
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::size_t now = count_lines("/proc/self/maps");
    if (now == maps_before && i >= 5) break;
    maps_before = now;
  }
  const auto ranges_before = mapped_ranges();
  fail_nth(site::stack_guard, 5);  // the fifth stack of the batch
  try {
    fresh.go([] {});
    FAIL("go did not throw");
  } catch (const std::system_error& e) {
    CHECK(goro_test::contains(e.what(), "goro: cannot guard a goroutine stack"));
  }
  // Nothing of the failed batch stays mapped: a leak would add a mapping or
  // grow a neighbour it merged with (other threads are idle; a sanitizer's
  // runtime may merge, drop or split its own mappings meanwhile, which adds
  // lines to the map but no range outside what was mapped before).
  CHECK(new_ranges(ranges_before) == 0);
  check_runtime_works(fresh);
}

TEST_CASE(
    "fault: a worker thread that cannot start makes the runtime throw; the started ones are "
    "joined") {
  disarm_all guard;
  const std::size_t threads_before = settled_thread_count();
  fail_nth(site::thread_start, 3);
  const long before = injected(site::thread_start);
  std::string what;
  try {
    goro::runtime rt(with_workers(4));
  } catch (const std::system_error& e) {
    what = e.what();
  }
  // Says what could not start (issue 13, defect 10), not only the errno text.
  CHECK(goro_test::contains(what, "goro::runtime: cannot start worker thread 3 of 4"));
  CHECK(injected(site::thread_start) == before + 1);
  // The two that had started were stopped and joined (allow the kernel a
  // moment to reap them from /proc).
  for (int i = 0; i < 200 && count_threads() != threads_before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(count_threads() == threads_before);
  goro::runtime rt(with_workers(4));
  check_runtime_works(rt);
}

TEST_CASE(
    "fault: a failed allocation gives bad_alloc from make_chan and go; channels keep their "
    "values") {
  disarm_all guard;
  goro::runtime rt(with_workers(2));
  auto c = goro::make_chan<int>(4);
  c.send(1);
  fail_nth(site::allocation, 1);
  CHECK_THROWS_AS(goro::make_chan<int>(16), std::bad_alloc);
  CHECK(c.size() == 1);
  CHECK(*c.recv() == 1);
  // A goroutine function too large for its own stack goes to the heap.
  std::array<char, 64 * 1024> big{};
  big[0] = 7;
  std::atomic<int> ran{0};
  fail_nth(site::allocation, 1);
  CHECK_THROWS_AS(rt.go([big, &ran] { ran += big[0]; }), std::bad_alloc);
  CHECK(rt.num_goroutines() == 0);
  rt.go([big, &ran] { ran += big[0]; });
  rt.wait();
  CHECK(ran.load() == 7);
  check_runtime_works(rt);
}

TEST_CASE("fault: faults injected while channels are busy lose no value") {
  disarm_all guard;
  goro::runtime rt(with_workers(4));
  auto c = goro::make_chan<int>(2);
  constexpr int producers = 4;
  const int per = 2000 / goro_test::kScale;
  std::atomic<long> sum{0};
  std::atomic<int> count{0};
  for (int p = 0; p < producers; ++p)
    rt.go([=] {
      for (int i = 1; i <= per; ++i) c.send(i);
    });
  auto done = goro::make_chan<int>(1);
  rt.go([&, c, done] {
    for (int i = 0; i < producers * per; ++i) {
      sum += *c.recv();
      ++count;
    }
    done.send(1);
  });
  // Meanwhile, from this thread: starts and channel creations that fail.
  int failures = 0;
  for (int round = 0; round < 50; ++round) {
    fail_nth(site::allocation, 1);
    try {
      (void)goro::make_chan<long>(32);
    } catch (const std::bad_alloc&) {
      ++failures;
    }
    std::array<char, 64 * 1024> big{};
    fail_nth(site::allocation, 1);
    try {
      rt.go([big] { (void)big; });
    } catch (const std::bad_alloc&) {
      ++failures;
    }
  }
  fail_nth(site::allocation, 0);
  CHECK(failures == 100);
  REQUIRE(done.recv());
  rt.wait();
  CHECK(count.load() == producers * per);
  CHECK(sum.load() == static_cast<long>(producers) * per * (per + 1) / 2);
}

TEST_CASE("fault: an unarmed site never fails") {
  disarm_all guard;
  const long maps = injected(site::stack_map);
  goro::runtime rt(with_workers(2));
  check_runtime_works(rt, 2, 100);
  CHECK(injected(site::stack_map) == maps);
}

TEST_CASE("fault: a runtime under CET shadow stacks refuses to start, saying why and what to do") {
  disarm_all guard;
#if defined(GORO_CONTEXT_X86_64) && !defined(GORO_USE_UCONTEXT)
  const std::size_t threads_before = settled_thread_count();
  fail_nth(site::shadow_stack, 1);
  try {
    goro::runtime rt(with_workers(2));
    FAIL("the runtime started");
  } catch (const std::runtime_error& e) {
    CHECK(goro_test::contains(e.what(), "CET shadow stacks"));
    CHECK(goro_test::contains(e.what(), "-fcf-protection=none"));
    CHECK(goro_test::contains(e.what(), "glibc.cpu.x86_shstk=off"));
  }
  CHECK(count_threads() == threads_before);  // refused before any worker started
#endif
  goro::runtime rt(with_workers(2));
  check_runtime_works(rt, 2, 100);
}

TEST_CASE("shadow stacks: /proc/self/status is read the way the kernel writes it") {
  using goro::detail::status_says_shadow_stack;
  CHECK(status_says_shadow_stack(
      "Name:\tx\nx86_Thread_features:\tshstk wrss\nx86_Thread_features_locked:\t\n"));
  CHECK(status_says_shadow_stack("x86_Thread_features:\twrss shstk"));
  CHECK_FALSE(status_says_shadow_stack(
      "Name:\tx\nx86_Thread_features:\t\nx86_Thread_features_locked:\tshstk\n"));
  CHECK_FALSE(status_says_shadow_stack("x86_Thread_features:\tshstkx\n"));
  CHECK_FALSE(status_says_shadow_stack("Name:\tshstk\n"));
  CHECK_FALSE(status_says_shadow_stack(""));
}

TEST_CASE("fault: the timer heap cannot grow: go throws bad_alloc, timed waits keep working") {
  // The heap grows when go() maps a batch of stacks (a slot per stack, for
  // the timed waits of the goroutine on it) and in a timer's constructor,
  // never on a worker (issue 13, defect 8). A failed growth is go()'s
  // bad_alloc, like a failed stack mapping.
  disarm_all guard;
  goro::runtime rt(with_workers(2));
  auto hold = goro::make_chan<int>();
  goro::wait_group running;
  std::atomic<int> timed_out{0};
  int started = 0;
  int refused = 0;
  const long before = injected(site::allocation);
  for (int i = 0; i < 300; ++i) {
    fail_nth(site::allocation, 1);  // whatever goro allocates next fails
    running.add(1);
    try {
      rt.go([&] {
        if (!hold.recv_for(std::chrono::milliseconds(1))) timed_out.fetch_add(1);
        running.done();
        hold.recv();  // stays, holding its heap slot, until the end
      });
      ++started;
    } catch (const std::bad_alloc&) {
      running.add(-1);
      ++refused;
    }
  }
  fail_nth(site::allocation, 0);
  running.wait();
  hold.close();
  rt.wait();
  // 300 goroutines grow the heap past 64, 128 and 256 slots and map ten
  // stack batches: every such growth failed once.
  CHECK(refused >= 3);
  CHECK(injected(site::allocation) - before == refused);
  CHECK(timed_out.load() == started);
  check_runtime_works(rt);
}
