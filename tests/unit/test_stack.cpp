// Goroutine stacks: goro::detail::stack (mapping, guard, sizes), the stack
// pools, and what happens at the edges: overflow into the guard (a clear
// report, then death by SIGSEGV) and running out of address space (an
// exception, then recovery). The edge cases run in child programs from
// tests/programs, since they kill or constrain the process.
#include "goro_test.hpp"
#include "run_program.hpp"
#include "test_helpers.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using goro::detail::default_guard_bytes;
using goro::detail::guard_method;
using goro::detail::guard_method_in_use;
using goro::detail::min_guard_bytes;
using goro::detail::min_stack_bytes;
using goro::detail::page_size;
using goro::detail::stack;
using goro::detail::widest_guard;

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

/// Whether the kernel refuses to let us read `len` bytes at `p` (the way a
/// guard page must): a pipe write from there fails with EFAULT instead of
/// faulting the process.
/// 1 if it refuses, 0 if not, -1 if there is no pipe to tell. Free of
/// Catch's macros, so goroutines may call it.
int refuses_to_read(const void* p, std::size_t len) noexcept {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const ssize_t n = ::write(fds[1], p, len);
  const int err = errno;
  ::close(fds[0]);
  ::close(fds[1]);
  return n < 0 && err == EFAULT ? 1 : 0;
}

bool kernel_refuses_to_read(const void* p, std::size_t len) {
  const int refused = refuses_to_read(p, len);
  REQUIRE(refused >= 0);
  return refused == 1;
}

/// The kernel's version as major * 100 + minor, e.g. 613 for 6.13.
int kernel_version() {
  utsname u{};
  if (::uname(&u) != 0) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

/// The kernel map entries (lines of /proc/self/maps) overlapping [lo, hi).
std::size_t map_entries_overlapping(std::uintptr_t lo, std::uintptr_t hi) {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    std::uintptr_t a = 0, b = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &a, &b) == 2 && a < hi && lo < b) ++n;
  }
  return n;
}

// How many of the pages holding these addresses are resident (mincore);
// an unmapped one is not.
std::size_t resident_pages(const std::vector<std::uintptr_t>& addresses) {
  const std::uintptr_t page = page_size();
  std::size_t n = 0;
  for (std::uintptr_t a : addresses) {
    unsigned char in_core = 0;
    if (::mincore(reinterpret_cast<void*>(a & ~(page - 1)), 1, &in_core) == 0 && (in_core & 1u))
      ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("stack: sizes are whole pages, at least the minimum", "[stack]") {
  const std::size_t page = page_size();
  REQUIRE(page >= 4096);
  REQUIRE((page & (page - 1)) == 0);

  stack tiny(1);
  CHECK(tiny.size() == min_stack_bytes);
  stack odd(100001);
  CHECK(odd.size() >= 100001);
  CHECK(odd.size() < 100001 + page);
  CHECK(odd.size() % page == 0);
  stack exact(256 * 1024);
  CHECK(exact.size() == 256 * 1024);
  for (const stack* s : {&tiny, &odd, &exact}) {
    CHECK(static_cast<bool>(*s));
    CHECK(addr(s->bottom()) % page == 0);
    CHECK(addr(s->top()) % page == 0);
    CHECK(addr(s->top()) - addr(s->bottom()) == s->size());
  }
}

TEST_CASE("stack: all of the usable range can be written", "[stack]") {
  stack s(64 * 1024);
  auto* lo = static_cast<unsigned char*>(s.bottom());
  for (std::size_t i = 0; i < s.size(); i += page_size())
    lo[i] = static_cast<unsigned char>(i / page_size());
  lo[s.size() - 1] = 0xAB;
  CHECK(lo[s.size() - 1] == 0xAB);
  CHECK(lo[page_size()] == 1);
}

TEST_CASE("stack: the guard below the stack cannot be touched", "[stack]") {
  // The default guard, the narrowest, one that is not whole pages, and
  // narrower than the narrowest (widened to it).
  const std::size_t page = page_size();
  const std::size_t round_up = (40000 + page - 1) / page * page;
  const std::pair<std::size_t, std::size_t> asked_got[] = {
      {default_guard_bytes, default_guard_bytes},
      {min_guard_bytes, min_guard_bytes},
      {40000, round_up},
      {1, min_guard_bytes}};
  for (const auto& [asked, got] : asked_got) {
    INFO("guard of " << asked << " bytes asked");
    stack s(min_stack_bytes, asked);
    CHECK(s.guard() == std::max(got, page));
    const auto* guard_lo = static_cast<const char*>(s.bottom()) - s.guard();
    // Every guard page refuses access; the usable range right above does not.
    for (std::size_t off = 0; off < s.guard(); off += page) {
      INFO("guard page at offset " << off);
      CHECK(kernel_refuses_to_read(guard_lo + off, 1));
    }
    CHECK(kernel_refuses_to_read(static_cast<const char*>(s.bottom()) - 1, 1));
    CHECK_FALSE(kernel_refuses_to_read(s.bottom(), 1));
    CHECK(widest_guard().load() >= s.guard());
  }
  CHECK(guard_method_in_use().load() != guard_method::unknown);
}

TEST_CASE("stack: a batch's stacks lie a stack and a guard apart", "[stack]") {
  // What a narrower guard buys: the stacks, and so their top pages, closer
  // together (docs/api.md, stack_guard).
  for (const std::size_t guard : {default_guard_bytes, std::max(min_guard_bytes, page_size())}) {
    INFO("guard of " << guard << " bytes");
    stack batch[4];
    stack::map_many(min_stack_bytes, 4, batch, guard);
    for (std::size_t i = 0; i + 1 < 4; ++i) {
      CHECK(batch[i].guard() == guard);
      CHECK(addr(batch[i + 1].bottom()) - addr(batch[i].top()) == guard);
      CHECK(kernel_refuses_to_read(static_cast<const char*>(batch[i + 1].bottom()) - guard, 1));
      CHECK_FALSE(kernel_refuses_to_read(static_cast<const char*>(batch[i].top()) - 1, 1));
    }
  }
}

TEST_CASE("stack: guards use MADV_GUARD_INSTALL where the kernel has it", "[stack]") {
  { stack probe(min_stack_bytes); }
  const guard_method m = guard_method_in_use().load();
  REQUIRE(m != guard_method::unknown);
  if (kernel_version() >= 613 && !goro_test::under_emulator()) {
    CHECK(m == guard_method::madvise_guard);
  }
  // One stack, its guard included: one map entry with a guard that leaves the
  // mapping whole, two with an mprotect'ed one. Neighbours may share entries,
  // so count those overlapping a stack in the middle of three.
  stack a(min_stack_bytes), b(min_stack_bytes), c(min_stack_bytes);
  const std::size_t entries = map_entries_overlapping(addr(b.bottom()) - b.guard(), addr(b.top()));
  if (m == guard_method::madvise_guard) {
    CHECK(entries == 1);
  } else {
    CHECK(entries == 2);
  }
}

TEST_CASE("stack: a moved stack keeps its memory; the source is empty", "[stack]") {
  stack a(min_stack_bytes);
  void* bottom = a.bottom();
  static_cast<char*>(bottom)[0] = 7;
  stack b(std::move(a));
  CHECK_FALSE(static_cast<bool>(a));
  REQUIRE(static_cast<bool>(b));
  CHECK(b.bottom() == bottom);
  CHECK(static_cast<char*>(b.bottom())[0] == 7);
  stack c;
  CHECK_FALSE(static_cast<bool>(c));
  c = std::move(b);
  CHECK(c.bottom() == bottom);
  CHECK_FALSE(static_cast<bool>(b));
  c = stack();  // unmaps
  CHECK_FALSE(static_cast<bool>(c));
}

TEST_CASE("stack: an impossible size throws std::bad_alloc", "[stack]") {
  CHECK_THROWS_AS(stack(std::size_t{1} << 45), std::bad_alloc);
  CHECK_THROWS_AS(stack(~std::size_t{0} - 4096), std::bad_alloc);
  stack fine(min_stack_bytes);  // and nothing is broken afterwards
  CHECK(static_cast<bool>(fine));
}

TEST_CASE("stack: map_many maps a batch of separately guarded stacks", "[stack]") {
  stack batch[8];
  stack::map_many(20000, 8, batch);
  std::set<void*> bottoms;
  for (auto& s : batch) {
    REQUIRE(static_cast<bool>(s));
    CHECK(s.size() >= 20000);
    CHECK(s.size() % page_size() == 0);
    CHECK(kernel_refuses_to_read(static_cast<const char*>(s.bottom()) - 1, 1));
    CHECK_FALSE(kernel_refuses_to_read(static_cast<const char*>(s.top()) - 1, 1));
    bottoms.insert(s.bottom());
  }
  CHECK(bottoms.size() == 8);
  // One released before its neighbours gives back its memory but leaves the
  // mapping whole (no new map entry); the others stay usable.
  const auto lo = reinterpret_cast<std::uintptr_t>(batch[0].bottom()) - batch[0].guard();
  const auto hi = reinterpret_cast<std::uintptr_t>(batch[7].top());
  const std::size_t entries = map_entries_overlapping(lo, hi);
  void* third = batch[3].bottom();
  static_cast<char*>(third)[0] = 5;
  batch[3] = stack();
  CHECK(map_entries_overlapping(lo, hi) == entries);
  static_cast<char*>(batch[2].bottom())[0] = 1;
  static_cast<char*>(batch[4].top())[-1] = 1;
  // The mapping goes, whole, with the last stack, in any order.
  for (int i : {0, 7, 2, 6, 1, 5}) batch[i] = stack();
  CHECK(map_entries_overlapping(lo, hi) == entries);
  CHECK_FALSE(kernel_refuses_to_read(third, 1));
  batch[4] = stack();
  CHECK(map_entries_overlapping(lo, hi) == 0);
  CHECK(kernel_refuses_to_read(third, 1));  // gone
  CHECK_THROWS_AS(stack::map_many(std::size_t{1} << 45, 2, batch), std::bad_alloc);
}

namespace {

using goro::detail::batched_advice;
using goro::detail::batched_advice_state;

/// Sets how this process gives advice over several ranges for the scope of
/// a test, and puts back what was there.
class advice_mode {
 public:
  explicit advice_mode(batched_advice m) : saved_(batched_advice_state().load()) {
    batched_advice_state().store(m);
  }
  ~advice_mode() { batched_advice_state().store(saved_); }
  advice_mode(const advice_mode&) = delete;
  advice_mode& operator=(const advice_mode&) = delete;

 private:
  batched_advice saved_;
};

/// The errno of a process_madvise(PIDFD_SELF_THREAD, MADV_COLD) of one page
/// of this process, or 0 if it worked.
int process_madvise_refusal() {
#if GORO_HAVE_PROCESS_MADVISE
  const std::size_t page = page_size();
  void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  iovec range{p, page};
  constexpr int madv_cold = 20;
  const long done = ::syscall(GORO_SYS_PROCESS_MADVISE, goro::detail::pidfd_self_thread, &range, 1,
                              madv_cold, 0u);
  const int err = done < 0 ? errno : 0;
  ::munmap(p, page);
  return err;
#else
  return ENOSYS;
#endif
}

/// A batch of 8 stacks, mapped, written to at its bottom and top, then
/// released in three calls: two alone, three at once (what a pool's trim
/// does), then the last three, whose slab goes with them. Checks what the
/// kernel holds after each step.
void release_a_batch_in_groups() {
  constexpr std::size_t n = 8;
  goro::detail::stack_handle h[n];
  stack::map_many(20000, n, h);
  std::vector<std::uintptr_t> bottoms, tops;
  for (auto& one : h) {
    stack s = stack::adopt(one);
    CHECK(kernel_refuses_to_read(static_cast<const char*>(s.bottom()) - 1, 1));
    static_cast<char*>(s.bottom())[0] = 1;
    static_cast<char*>(s.top())[-1] = 2;
    bottoms.push_back(addr(s.bottom()));
    tops.push_back(addr(s.top()) - 1);
    one = s.release();
  }
  const std::uintptr_t lo = bottoms.front() - h[0].slab->guard, hi = tops.back() + 1;
  const std::size_t entries = map_entries_overlapping(lo, hi);
  CHECK(resident_pages(bottoms) == n);
  // The handles in a jumbled order, as a pool holds them.
  goro::detail::stack_handle alone[2] = {h[5], h[1]};
  goro::detail::stack_handle three[3] = {h[6], h[0], h[3]};
  goro::detail::stack_handle last[3] = {h[7], h[2], h[4]};
  stack::release_all(alone, 1);
  stack::release_all(alone + 1, 1);
  stack::release_all(three, 3);
  for (std::size_t i : {5, 1, 6, 0, 3}) {
    INFO("released stack " << i);
    CHECK(resident_pages({bottoms[i], tops[i]}) == 0);
  }
  for (std::size_t i : {7, 2, 4}) {
    INFO("stack " << i << ", still owned");
    CHECK(resident_pages({bottoms[i], tops[i]}) == 2);
    CHECK(reinterpret_cast<const char*>(tops[i])[0] == 2);
  }
  CHECK(map_entries_overlapping(lo, hi) == entries);  // no stack split the mapping
  stack::release_all(last, 3);
  CHECK(map_entries_overlapping(lo, hi) == 0);
}

}  // namespace

TEST_CASE("stack: a new batch has every stack's top page in memory, in one call", "[stack]") {
  // The page every goroutine writes first is brought in with the batch
  // (one process_madvise for all its stacks) instead of by a page fault per
  // goroutine: on a virtual machine the fault costs 14-21 us.
  stack batch[8];
  stack::map_many(20000, 8, batch);
  const batched_advice state = batched_advice_state().load();
  // PIDFD_SELF_THREAD came with Linux 6.15; qemu-user and valgrind do not
  // know process_madvise, and sandboxes (container seccomp profiles) often
  // refuse it with EPERM: there goro must go range by range, not fail.
  if (kernel_version() >= 615 && !goro_test::under_emulator() && !goro_test::under_valgrind() &&
      state != batched_advice::works) {
    const int refused = process_madvise_refusal();
    INFO("process_madvise on this Linux 6.15+: errno " << refused);
    if (refused == EPERM) {
      WARN("process_madvise is refused here (a seccomp filter?): stacks are advised one by one");
    } else {
      CHECK(state == batched_advice::works);
    }
  }
  std::vector<std::uintptr_t> tops, bottoms;
  for (auto& s : batch) {
    tops.push_back(addr(s.top()) - 1);
    bottoms.push_back(addr(s.bottom()));
  }
  if (state == batched_advice::works) {
    CHECK(resident_pages(tops) == 8);
  } else {
    CHECK(resident_pages(tops) == 0);  // nothing touched them
  }
  CHECK(resident_pages(bottoms) == 0);  // only the top page
}

TEST_CASE("stack: stacks released together give back their memory; the slab goes with the last",
          "[stack]") {
  SECTION("in one call per slab where the kernel allows it") { release_a_batch_in_groups(); }
  SECTION("one call per stack where it does not") {
    advice_mode per_range(batched_advice::unavailable);
    release_a_batch_in_groups();
    CHECK(batched_advice_state().load() == batched_advice::unavailable);
  }
}

TEST_CASE("stack: goroutines ending in any order never split a stack mapping (vm.max_map_count)",
          "[stack][pool]") {
  // Half the goroutines end (every other one, so the freed stacks are
  // scattered through the batches), their stacks pile up in the pools, and
  // idle workers trim the pools. Unmapping stacks one by one out of batch
  // mappings added a map entry per hole: thousands for a few thousand
  // goroutines, and at scale the process hit vm.max_map_count.
  const int n = goro_test::under_sanitizer() ? 512 : 2048;
  goro::runtime_options o;
  o.workers = 1;
  o.stack_size = 16 * 1024;
  goro::runtime rt(o);
  std::vector<goro::chan<int>> gates;
  for (int i = 0; i < n; ++i) gates.push_back(goro::make_chan<int>());
  auto done = goro::make_chan<int>(static_cast<std::size_t>(n));
  auto where = goro::make_chan<std::uintptr_t>(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    rt.go([gate = gates[static_cast<std::size_t>(i)], done, where, i] {
      volatile char local = 0;
      where.send(reinterpret_cast<std::uintptr_t>(&local));
      gate.recv();
      done.send(i);
    });
  // Count only the entries around the stacks: a sanitizer's runtime maps
  // memory of its own meanwhile, elsewhere.
  std::uintptr_t lo = ~std::uintptr_t{0}, hi = 0;
  for (int i = 0; i < n; ++i) {
    const std::uintptr_t a = *where.recv();
    lo = std::min(lo, a);
    hi = std::max(hi, a);
  }
  lo -= 1 << 20;
  hi += 1 << 20;
  const std::size_t peak = map_entries_overlapping(lo, hi);
  for (int i = 1; i < n; i += 2) gates[static_cast<std::size_t>(i)].close();
  for (int i = 1; i < n; i += 2) done.recv();
  // Let the idle worker trim the pools (a few stacks per idle moment).
  for (int k = 0; k < 40; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::size_t after = map_entries_overlapping(lo, hi);
  INFO("map entries: " << peak << " at the peak, " << after << " after half ended");
  // Under ThreadSanitizer each goroutine's fiber state is a mapping of its
  // own among the stacks, unmapped when the goroutine ends: not goro's.
  if (!goro_test::config_has_tag("tsan")) CHECK(after <= peak + 64);
  for (int i = 0; i < n; i += 2) gates[static_cast<std::size_t>(i)].close();
  rt.wait();
}

TEST_CASE("stack pools: a burst's surplus goes back to the kernel soon after the burst",
          "[stack][pool]") {
  // While goroutines are being started the shared pool is in demand and
  // idle workers do not trim it (trim_result::in_demand). Once the burst is
  // over nothing may wake them, yet its surplus must still go back: a worker
  // that found the pool in demand sleeps at most trim_delay, then trims.
  // One worker: its first idle moment after the burst is the only one.
  using goro::detail::shared_stack_pool;
  constexpr std::size_t stack_bytes = 16 * 1024;
  // Under TSan each live goroutine is a TSan fiber (6 ms each to create on
  // the CI host of 2026-12-01: 18 s for 3,000); 1,000 is still nearly three
  // times what may stay (`kept` below).
  const int n = goro_test::scaled(3000, 3000, 1000);
  goro::runtime_options o;
  o.workers = 1;
  o.stack_size = stack_bytes;
  goro::runtime rt(o);
  auto gate = goro::make_chan<int>();
  auto where = goro::make_chan<std::uintptr_t>(n);
  for (int i = 0; i < n; ++i) {
    rt.go([gate, where] {
      volatile char touched[64];
      touched[0] = 1;
      where.send(reinterpret_cast<std::uintptr_t>(&touched[0]));
      gate.recv();
    });
  }
  // One page of each stack (the one its frame touched): counting the pages
  // of the whole range would count a sanitizer's own mappings among them.
  std::vector<std::uintptr_t> frames;
  for (int i = 0; i < n; ++i) frames.push_back(*where.recv());
  const std::size_t peak = resident_pages(frames);
  gate.close();
  rt.wait();
  // What may stay: the shared pool's `hot` stacks, the worker's own pool
  // and a batch in flight.
  const std::size_t kept =
      shared_stack_pool::hot + shared_stack_pool::worker_max + 1 + shared_stack_pool::batch;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::size_t now = resident_pages(frames);
  while (now > kept && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    now = resident_pages(frames);
  }
  INFO("resident stack pages: " << peak << " at the peak, " << now << " after");
  CHECK(peak == static_cast<std::size_t>(n));
  CHECK(now <= kept);
}

TEST_CASE("stack pools: recycling, batches between a worker and the shared pool", "[stack][pool]") {
  using goro::detail::shared_stack_pool;
  using goro::detail::stack_pool;
  constexpr std::size_t batch = shared_stack_pool::batch;
  // The reservations every stack of a pool holds (stack_pool.hpp).
  goro::detail::g_registry registry(1);
  goro::detail::timer_heap timers;
  shared_stack_pool shared(32 * 1024, default_guard_bytes, registry, timers);
  CHECK(shared.stack_bytes() == 32 * 1024);
  stack_pool local;

  // Nothing pooled: a whole batch is mapped, one handed out, each stack
  // with its registry slot and timer-heap place.
  stack first = shared.take(local);
  CHECK(first.size() == 32 * 1024);
  CHECK(local.size() == batch - 1);
  CHECK(first.registry_slot() != nullptr);
  CHECK(timers.reserved() == batch);
  void* first_bottom = first.bottom();
  shared.give(local, std::move(first));
  CHECK(local.size() == batch);
  stack again = shared.take(local);  // recycled (last in, first out), not mapped anew
  CHECK(again.bottom() == first_bottom);
  shared.give(local, std::move(again));

  // A worker's pool never holds more than worker_max: the surplus goes to
  // the shared pool in batches.
  std::vector<stack> held;
  for (std::size_t i = 0; i < 400; ++i) held.push_back(shared.take(local));
  std::set<void*> bottoms;
  std::set<void*> slots;
  for (auto& s : held) bottoms.insert(s.bottom());
  for (auto& s : held) slots.insert(s.registry_slot());
  CHECK(bottoms.size() == held.size());  // all distinct
  CHECK(slots.size() == held.size());
  CHECK(slots.count(nullptr) == 0);
  // Marked, to tell pooled stacks from fresh ones later: fresh memory is zero.
  // (Addresses cannot tell: a fresh mapping may reuse a trimmed stack's.)
  const std::uint64_t mark = 0x676f726f2d706f6fULL;
  auto is_marked = [&](const stack& s) { return *static_cast<std::uint64_t*>(s.bottom()) == mark; };
  for (auto& s : held) *static_cast<std::uint64_t*>(s.bottom()) = mark;
  bool bounded = true;
  for (auto& s : held) {
    shared.give(local, std::move(s));
    bounded = bounded && local.size() <= shared_stack_pool::worker_max;
  }
  CHECK(bounded);

  // Another worker with an empty pool is refilled from the shared pool, in a batch.
  stack_pool other;
  stack from_shared = shared.take(other);
  CHECK(is_marked(from_shared));
  CHECK(other.size() == batch - 1);
  shared.give(other, std::move(from_shared));

  // An idle worker trims the shared pool down to `hot` stacks, a few per
  // call, but not while the pool is in demand: `other` refilled from it
  // since the last look, so the first call declines, and so does the first
  // after any later refill.
  using trim_result = shared_stack_pool::trim_result;
  CHECK(shared.trim() == trim_result::in_demand);
  CHECK(shared.trim() == trim_result::trimmed);
  stack_pool refilled;
  stack wanted = shared.take(refilled);
  CHECK(is_marked(wanted));
  shared.give(refilled, std::move(wanted));
  shared.give_all(refilled);
  CHECK(shared.trim() == trim_result::in_demand);
  std::size_t trims = 1;
  trim_result r;
  while ((r = shared.trim()) == trim_result::trimmed) {
    ++trims;
    REQUIRE(trims <= 400 / shared_stack_pool::trim_batch + 1);
  }
  CHECK(r == trim_result::nothing);
  CHECK(shared.trim() == trim_result::nothing);
  // Trimmed stacks gave their timer-heap places back: what is reserved is
  // what exists, the shared pool's `hot` and the two workers' pools.
  CHECK(timers.reserved() == shared_stack_pool::hot + local.size() + other.size());
  // What is left: exactly `hot` pooled stacks come out before a fresh one.
  stack_pool drain;
  std::vector<stack> drained;
  std::size_t pooled = 0;
  for (;;) {
    drained.push_back(shared.take(drain));
    if (!is_marked(drained.back())) break;
    ++pooled;
  }
  CHECK(pooled == shared_stack_pool::hot);

  // A thread outside any worker takes from the shared pool too.
  stack outside = shared.take();
  CHECK(static_cast<bool>(outside));
  CHECK(outside.size() == 32 * 1024);

  // A stack no goroutine will run on (a failed go()) is discarded with its
  // reservations; its slot is the next one handed out.
  const std::size_t reserved = timers.reserved();
  void* const slot = outside.registry_slot();
  shared.discard(std::move(outside));
  CHECK_FALSE(static_cast<bool>(outside));
  CHECK(timers.reserved() == reserved - 1);
  goro::detail::g_registry::slot* again_slot = nullptr;
  registry.take(&again_slot, 1);
  CHECK(static_cast<void*>(again_slot) == slot);
  registry.give_back(&again_slot, 1);
}

TEST_CASE("stack: overflowing a context's stack is reported, then the process dies",
          "[stack][death]") {
  const auto r = goro_test::run_program(goro_test::program_path("stack_overflow"), {"context"});
  INFO(r.describe());
  CHECK_FALSE(r.succeeded());
  CHECK_FALSE(r.timed_out);
#if defined(GORO_ASAN)
  // AddressSanitizer replaces goro's handler with its own report.
  CHECK(goro_test::contains(r.err, "AddressSanitizer"));
#else
  CHECK(r.signal == SIGSEGV);
  CHECK(goro_test::contains(r.err, "goro: fatal error: stack overflow in a goro context"));
  CHECK(goro_test::contains(r.err, "stack of 65536 bytes"));
#endif
}

TEST_CASE("stack: overflowing a goroutine's stack names the goroutine", "[stack][death]") {
  const auto r = goro_test::check_goroutine_overflow("goroutine");
#if !defined(GORO_ASAN)
  INFO(r.describe());
  CHECK(goro_test::contains(r.err, "runtime_options::stack_size"));
#endif
}

/// Bytes of inaccessible memory right below the stack the caller runs on, in
/// whole pages, counted up to `most`; 0 if a probe could not be made.
std::size_t guard_below_caller(std::size_t most) noexcept {
  const std::size_t page = page_size();
  auto at = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) & ~(page - 1);
  int refused = 0;
  while ((refused = refuses_to_read(reinterpret_cast<const void*>(at), 1)) == 0) at -= page;
  if (refused < 0) return 0;
  std::size_t width = 0;
  while (width < most && refuses_to_read(reinterpret_cast<const void*>(at - width), 1) == 1) {
    width += page;
  }
  return width;
}

TEST_CASE("stack: a runtime's goroutines run above guards of its stack_guard", "[stack][runtime]") {
  // Eight goroutines alive at once hold eight stacks of one slab: below
  // each guard lies the stack under it, readable, except for the slab's
  // lowest, below which nothing is mapped.
  const std::size_t guard = std::max<std::size_t>(32 * 1024, 2 * page_size());
  constexpr std::size_t most = 8 * default_guard_bytes;
  constexpr int n = 8;
  std::size_t widths[n] = {};
  goro::runtime_options options;
  options.workers = 1;
  options.stack_size = min_stack_bytes;
  options.stack_guard = guard;
  {
    goro::runtime rt(options);
    rt.go([&widths] {
      auto probed = goro::make_chan<int>();
      auto release = goro::make_chan<int>();
      for (int i = 0; i < n; ++i) {
        goro::go([i, &widths, probed, release] {
          widths[i] = guard_below_caller(most);
          probed.send(i);
          release.recv();
        });
      }
      for (int i = 0; i < n; ++i) probed.recv();
      release.close();
    });
    rt.wait();
  }
  int exact = 0;
  for (const std::size_t width : widths) {
    INFO("a goroutine found " << width << " bytes refused below its stack");
    if (width == guard) {
      ++exact;
    } else {
      CHECK(width == most);
    }
  }
  CHECK(exact >= n - 1);
}

TEST_CASE("stack: an overflow is reported whatever the runtime's guard width", "[stack][death]") {
  // narrowguard: the 16 KiB guard of runtime_options::stack_guard; wideguard:
  // a 1 MiB guard and a frame landing 580 KiB below the stack, past where
  // the default guard would end.
  for (const char* mode : {"narrowguard", "wideguard"}) goro_test::check_goroutine_overflow(mode);
}

TEST_CASE("stack: the guard probe without a free file descriptor falls back to mprotect",
          "[stack]") {
  const auto r = goro_test::run_program(goro_test::program_path("guard_without_fds"), {});
  INFO(r.describe());
  CHECK(r.succeeded());
  CHECK(goro_test::contains(
      r.out, "stacks made, guard method " +
                 std::to_string(static_cast<int>(goro::detail::guard_method::mprotect))));
}

TEST_CASE("stack: a fault that is not an overflow goes to the previous handler", "[stack][death]") {
  SECTION("the program's own SIGSEGV handler still runs") {
    const auto r =
        goro_test::run_program(goro_test::program_path("segv_not_overflow"), {"chained"});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(goro_test::contains(r.err, "own handler ran"));
    CHECK_FALSE(goro_test::contains(r.err, "stack overflow"));
  }
  SECTION("without one, the default action: death by SIGSEGV, no overflow report") {
    const auto r = goro_test::run_program(goro_test::program_path("segv_not_overflow"), {"plain"});
    INFO(r.describe());
    CHECK_FALSE(r.succeeded());
    CHECK_FALSE(r.timed_out);
    CHECK_FALSE(goro_test::contains(r.err, "goro: fatal error: stack overflow"));
    if (!goro_test::under_sanitizer()) CHECK(r.signal == SIGSEGV);  // sanitizers report and exit
  }
  SECTION("a SIGSEGV sent with raise() or kill, not a fault, still kills") {
    const auto r = goro_test::run_program(goro_test::program_path("segv_not_overflow"), {"sent"});
    INFO(r.describe());
    CHECK_FALSE(r.succeeded());
    CHECK_FALSE(r.timed_out);
    CHECK_FALSE(goro_test::contains(r.out, "no fault?"));
    CHECK_FALSE(goro_test::contains(r.err, "goro: fatal error: stack overflow"));
    if (!goro_test::under_sanitizer()) CHECK(r.signal == SIGSEGV);
  }
}

TEST_CASE("stack: running out of address space throws, and freeing stacks recovers",
          "[stack][limits]") {
  if (goro_test::under_sanitizer() || goro_test::under_emulator()) {
    // Sanitizers reserve terabytes of shadow memory (no address-space limit
    // can leave room for it); qemu-user ignores the limit.
    WARN("skipped: an address-space limit cannot work under sanitizers or emulators");
    return;
  }
  const auto r = goro_test::run_program(goro_test::program_path("stack_exhaustion"));
  INFO(r.describe());
  if (r.exit_code == 77) {
    WARN("skipped: RLIMIT_AS has no effect here: " << r.out);
    return;
  }
  CHECK(r.succeeded());
  CHECK(goro_test::contains(r.out, "ok: "));
  CHECK(goro_test::contains(r.out, "before std::bad_alloc"));
}
