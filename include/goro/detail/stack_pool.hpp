// stack_pool.hpp: recycling goroutine stacks.
//
// Mapping a stack costs system calls and page faults; reusing one that a
// finished goroutine left costs neither. Each worker keeps a small pool of its
// own (no lock: only the owning worker touches it); the runtime keeps a shared
// one, under a lock, that takes a worker's surplus in batches and refills an
// empty worker pool. Memory goes back to the kernel only when a worker is
// idle: it trims the shared pool down to its "hot" count (see trim()).
#ifndef GORO_DETAIL_STACK_POOL_HPP
#define GORO_DETAIL_STACK_POOL_HPP

#include "../config.hpp"
#include "spin_lock.hpp"
#include "stack.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace goro::detail {

/// A LIFO of free stacks of one size. Not synchronised.
class stack_pool {
 public:
  bool empty() const noexcept { return free_.empty(); }
  std::size_t size() const noexcept { return free_.size(); }

  stack take() noexcept {
    stack s = std::move(free_.back());
    free_.pop_back();
    return s;
  }

  void give(stack&& s) { free_.push_back(std::move(s)); }

  /// Moves up to n stacks into `to`.
  void move_to(stack_pool& to, std::size_t n) {
    while (n-- > 0 && !free_.empty()) to.give(take());
  }

 private:
  std::vector<stack> free_;
};

/// The runtime's shared pool and the policy that sizes both levels.
///
/// Nothing on the path of a goroutine starting or finishing unmaps memory
/// (an munmap costs ~10 us here, and shoots down TLBs on every worker):
/// surplus stacks pile up in the shared pool, and workers with nothing to run
/// trim it back to `hot` stacks before they sleep (trim()).
class shared_stack_pool {
 public:
  /// Stacks a worker keeps before passing a batch on.
  static constexpr std::size_t worker_max = 64;
  /// Stacks moved at once between a worker and the shared pool, and mapped at
  /// once when the pool is empty.
  static constexpr std::size_t batch = 32;
  /// Stacks the shared pool keeps when the runtime is idle.
  static constexpr std::size_t hot = 256;

  explicit shared_stack_pool(std::size_t stack_bytes) noexcept : stack_bytes_(stack_bytes) {}

  std::size_t stack_bytes() const noexcept { return stack_bytes_; }

  /// A stack for a new goroutine, from `local`, refilled from the shared pool
  /// or by mapping a batch when empty. Throws as stack::map_many does.
  stack take(stack_pool& local) {
    if (local.empty()) {
      std::lock_guard<spin_lock> guard(lock_);
      shared_.move_to(local, batch);
    }
    if (local.empty()) {
      stack fresh[batch];
      map_batch(fresh);
      for (stack& s : fresh) local.give(std::move(s));
    }
    return local.take();
  }

  /// A stack for a goroutine started outside any worker.
  stack take() {
    {
      std::lock_guard<spin_lock> guard(lock_);
      if (!shared_.empty()) return shared_.take();
    }
    stack fresh[batch];
    map_batch(fresh);
    std::lock_guard<spin_lock> guard(lock_);
    for (std::size_t i = 1; i < batch; ++i) shared_.give(std::move(fresh[i]));
    return std::move(fresh[0]);
  }

  /// Takes back a finished goroutine's stack into `local`, passing a batch to
  /// the shared pool when `local` is full. No system call.
  void give(stack_pool& local, stack&& s) {
    local.give(std::move(s));
    if (local.size() <= worker_max) return;
    std::lock_guard<spin_lock> guard(lock_);
    local.move_to(shared_, batch);
    size_hint_.store(shared_.size(), std::memory_order_relaxed);
  }

  /// Passes every stack of `local` to the shared pool: a worker with nothing
  /// to run, or finishing the runtime's last goroutine, keeps none of its own,
  /// so that trim() can release them and a go() from outside any worker finds
  /// one without mapping (it cannot reach a worker's pool).
  void give_all(stack_pool& local) {
    if (local.empty()) return;
    std::lock_guard<spin_lock> guard(lock_);
    local.move_to(shared_, local.size());
    size_hint_.store(shared_.size(), std::memory_order_relaxed);
  }

  /// Stacks unmapped per trim() call: small, so that an idle worker trimming
  /// notices new work within tens of microseconds.
  static constexpr std::size_t trim_batch = 8;

  /// Releases up to trim_batch stacks beyond `hot`: their memory goes back to
  /// the kernel, and a batch's mapping with its last stack (stack_slab).
  /// Returns true if it released any (the caller looks for work again before
  /// trimming more).
  bool trim() {
    if (size_hint_.load(std::memory_order_relaxed) <= hot) return false;
    stack_pool victims;
    {
      std::lock_guard<spin_lock> guard(lock_);
      if (shared_.size() > hot)
        shared_.move_to(victims, std::min(trim_batch, shared_.size() - hot));
      size_hint_.store(shared_.size(), std::memory_order_relaxed);
    }
    if (victims.empty()) return false;
    while (!victims.empty()) stack gone = victims.take();  // released outside the lock
    return true;
  }

 private:
  void map_batch(stack (&out)[batch]) { stack::map_many(stack_bytes_, batch, out); }

  const std::size_t stack_bytes_;
  spin_lock lock_;
  stack_pool shared_;                      ///< guarded by lock_
  std::atomic<std::size_t> size_hint_{0};  ///< shared_.size() as last seen; may be stale
};

}  // namespace goro::detail

#endif
