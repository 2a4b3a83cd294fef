// stack_pool.hpp: recycling goroutine stacks.
//
// Mapping a stack costs system calls and page faults; reusing one that a
// finished goroutine left costs neither. Each worker keeps a small pool of its
// own (no lock: only the owning worker touches it); the runtime keeps a shared
// one, under a lock, that takes a worker's surplus in batches and refills an
// empty worker pool. Memory goes back to the kernel only when a worker is
// idle and the shared pool is not in demand: it trims the pool down to its
// "hot" count (see trim()).
//
// A stack is also the unit of two reservations a goroutine needs: its slot
// in the runtime's goroutine registry (g_registry.hpp) and a place in the
// timer heap (a goroutine's timed wait arms a timer on a worker's own
// context, where nothing may allocate). A goroutine runs on one stack, so
// the pool takes both when it maps a batch and gives them back when it
// unmaps a stack: starting and finishing a goroutine touches neither.
#ifndef GORO_DETAIL_STACK_POOL_HPP
#define GORO_DETAIL_STACK_POOL_HPP

#include "../config.hpp"
#include "g_registry.hpp"
#include "spin_lock.hpp"
#include "stack.hpp"
#include "timer_heap.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace goro::detail {

/// A worker's own free stacks: a LIFO of at most `capacity` handles in a
/// fixed array. Not synchronised: only the owning worker touches it. A fixed
/// array, not a vector: taking and giving are a few plain loads and stores,
/// and nothing here allocates on a worker's own context.
class stack_pool {
 public:
  /// Stacks a worker keeps before passing a batch on.
  static constexpr std::size_t worker_max = 64;
  /// Stacks moved at once between a worker and the shared pool, and mapped at
  /// once when the pool is empty.
  static constexpr std::size_t batch = 32;
  /// Room for worker_max stacks and the one given that goes past it.
  static constexpr std::size_t capacity = worker_max + 1;

  stack_pool() noexcept = default;
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;
  ~stack_pool() { stack::release_all(free_, n_); }

  bool empty() const noexcept { return n_ == 0; }
  std::size_t size() const noexcept { return n_; }

  /// The newest stack; the pool must not be empty.
  stack take() noexcept {
    GORO_ASSERT(n_ != 0);
    return stack::adopt(free_[--n_]);
  }

  /// Adds s; the pool must have room (size() < capacity).
  void give(stack&& s) noexcept { give(s.release()); }
  void give(const stack_handle& h) noexcept {
    GORO_ASSERT(n_ < capacity);
    free_[n_++] = h;
  }

 private:
  friend class shared_stack_pool;

  stack_handle free_[capacity];
  std::size_t n_ = 0;  ///< free_[0..n_) hold stacks, oldest first
};

/// The runtime's shared pool and the policy that sizes both levels.
///
/// Nothing on the path of a goroutine starting or finishing unmaps memory
/// (an munmap costs ~10 us here, and shoots down TLBs on every worker):
/// surplus stacks pile up in the shared pool, and workers with nothing to run
/// trim it back to `hot` stacks before they sleep (trim()).
class shared_stack_pool {
 public:
  /// See stack_pool.
  static constexpr std::size_t worker_max = stack_pool::worker_max;
  static constexpr std::size_t batch = stack_pool::batch;
  /// Stacks the shared pool keeps when the runtime is idle.
  static constexpr std::size_t hot = 256;

  /// A pool of `stack_bytes` stacks, each above a `guard_bytes` guard
  /// (stack::map_many rounds both), whose reservations are in `registry`
  /// and `timers` (which it only stores here: they may be constructed later).
  shared_stack_pool(std::size_t stack_bytes, std::size_t guard_bytes, g_registry& registry,
                    timer_heap& timers) noexcept
      : stack_bytes_(stack_bytes),
        guard_bytes_(guard_bytes),
        registry_(registry),
        timers_(timers) {}
  shared_stack_pool(const shared_stack_pool&) = delete;
  shared_stack_pool& operator=(const shared_stack_pool&) = delete;
  /// Unmaps the pool's stacks without giving their reservations back: the
  /// registry and the timer heap go with the runtime.
  ~shared_stack_pool() { stack::release_all(shared_.data(), shared_.size()); }

  std::size_t stack_bytes() const noexcept { return stack_bytes_; }

  /// A stack for a new goroutine, from `local`, refilled from the shared pool
  /// or by mapping a batch when empty. Throws as stack::map_many does.
  stack take(stack_pool& local) {
    if (local.empty()) refill(local);
    return local.take();
  }

  /// A stack for a goroutine started outside any worker.
  stack take() {
    {
      std::lock_guard<spin_lock> guard(lock_);
      ++refills_;
      if (!shared_.empty()) {
        stack s = stack::adopt(shared_.back());
        shared_.pop_back();
        return s;
      }
    }
    stack_handle fresh[batch];
    map_batch(fresh);
    stack first = stack::adopt(fresh[0]);
    stack_pool rest;  // owns the others until they are in the shared pool
    for (std::size_t i = 1; i < batch; ++i) rest.give(fresh[i]);
    give_all(rest);
    return first;
  }

  /// Unmaps a stack taken from the pool that no goroutine will run on (a
  /// go() that failed after taking it), giving its reservations back. No
  /// allocation, so that it can run while an exception unwinds.
  void discard(stack&& s) noexcept {
    stack gone(std::move(s));
    g_registry::slot* slot = gone.registry_slot();
    give_back_reservations(&slot, 1);
  }

  /// Takes back a finished goroutine's stack into `local`, passing a batch to
  /// the shared pool when `local` is full. No system call.
  void give(stack_pool& local, stack&& s) { give(local, s.release()); }
  void give(stack_pool& local, const stack_handle& h) {
    local.give(h);
    if (local.size() > worker_max) pass_on(local, batch);
  }

  /// Passes every stack of `local` to the shared pool: a worker with nothing
  /// to run, or finishing the runtime's last goroutine, keeps none of its own,
  /// so that trim() can release them and a go() from outside any worker finds
  /// one without mapping (it cannot reach a worker's pool).
  void give_all(stack_pool& local) {
    if (!local.empty()) pass_on(local, local.size());
  }

  /// Stacks unmapped per trim() call: small, so that an idle worker trimming
  /// notices new work within tens of microseconds.
  static constexpr std::size_t trim_batch = 8;

  /// What a trim() call did.
  enum class trim_result {
    trimmed,    ///< released stacks: look for work, then trim again
    nothing,    ///< the pool is down to `hot`
    in_demand,  ///< a worker refilled from the pool since the last call: not now
  };
  /// How long a worker that found the pool in demand sleeps at most before
  /// it looks again, so that the surplus of a burst is released soon after
  /// the burst even if nothing else wakes the worker.
  static constexpr std::chrono::milliseconds trim_delay{1};

  /// Releases up to trim_batch stacks beyond `hot`: their memory goes back to
  /// the kernel, and a batch's mapping with its last stack (stack_slab).
  ///
  /// Not while the pool is in demand: if any worker refilled from it since
  /// the previous call, this call releases nothing and says so. A runtime
  /// with one worker spawning and another running what it spawns (W1 with
  /// two workers) has the second go idle between batches; it used to trim
  /// then, and the first worker mapped the same stacks again a moment later:
  /// 2,421 stacks released and about 4,900 mapped in a million spawns, each
  /// release a TLB shoot-down of the busy worker (docs/design.md, "Stacks").
  trim_result trim() {
    if (size_hint_.load(std::memory_order_relaxed) <= hot) return trim_result::nothing;
    stack_handle victims[trim_batch];
    std::size_t n = 0;
    {
      std::lock_guard<spin_lock> guard(lock_);
      if (refills_ != refills_at_trim_) {
        refills_at_trim_ = refills_;
        return trim_result::in_demand;
      }
      if (shared_.size() > hot) n = pop_newest(victims, std::min(trim_batch, shared_.size() - hot));
      size_hint_.store(shared_.size(), std::memory_order_relaxed);
    }
    g_registry::slot* slots[trim_batch];
    for (std::size_t i = 0; i < n; ++i) slots[i] = victims[i].registry_slot;
    stack::release_all(victims, n);  // outside the lock
    give_back_reservations(slots, n);
    return n != 0 ? trim_result::trimmed : trim_result::nothing;
  }

 private:
  // Moves the newest `n` stacks of `local` to the shared pool.
  void pass_on(stack_pool& local, std::size_t n) {
    const stack_handle* from = local.free_ + (local.n_ - n);
    std::lock_guard<spin_lock> guard(lock_);
    shared_.insert(shared_.end(), from, from + n);
    local.n_ -= n;  // after the insert, which may throw: then local keeps them
    size_hint_.store(shared_.size(), std::memory_order_relaxed);
  }

  // Moves up to `max` of the newest shared stacks to out; returns how many.
  // Holds lock_.
  std::size_t pop_newest(stack_handle* out, std::size_t max) {
    const std::size_t n = std::min(max, shared_.size());
    std::copy(shared_.end() - static_cast<std::ptrdiff_t>(n), shared_.end(), out);
    shared_.resize(shared_.size() - n);
    return n;
  }

  // Fills the empty `local` with a batch from the shared pool, or maps one.
  __attribute__((noinline)) void refill(stack_pool& local) {
    {
      std::lock_guard<spin_lock> guard(lock_);
      ++refills_;
      local.n_ = pop_newest(local.free_, batch);
    }
    if (local.empty()) {
      map_batch(local.free_);
      local.n_ = batch;
    }
  }

  // Maps `batch` stacks into out with their reservations (see the file
  // comment). Throws, leaving nothing mapped or reserved.
  void map_batch(stack_handle* out) {
    g_registry::slot* slots[batch];
    registry_.take(slots, batch);
    GORO_TRY { timers_.reserve_slots(batch); }
    GORO_CATCH_ALL {
      registry_.give_back(slots, batch);
      GORO_RETHROW;
    }
    GORO_TRY { stack::map_many(stack_bytes_, batch, out, guard_bytes_); }
    GORO_CATCH_ALL {
      give_back_reservations(slots, batch);
      GORO_RETHROW;
    }
    for (std::size_t i = 0; i < batch; ++i) out[i].registry_slot = slots[i];
  }

  // What a stack reserved when it was mapped, given back for `n` stacks that
  // no longer exist (or were never handed out): their registry slots and as
  // many timer-heap places.
  void give_back_reservations(g_registry::slot* const* slots, std::size_t n) noexcept {
    registry_.give_back(slots, n);
    timers_.release_slots(n);
  }

  const std::size_t stack_bytes_;
  const std::size_t guard_bytes_;
  g_registry& registry_;
  timer_heap& timers_;
  spin_lock lock_;
  std::vector<stack_handle> shared_;       ///< stacks owned by the pool; guarded by lock_
  std::atomic<std::size_t> size_hint_{0};  ///< shared_.size() as last seen; may be stale
  std::uint64_t refills_ = 0;              ///< take()s and refill()s so far; guarded by lock_
  std::uint64_t refills_at_trim_ = 0;      ///< refills_ at the last trim(); guarded by lock_
};

}  // namespace goro::detail

#endif
