// stack_pool.hpp: recycling goroutine stacks.
//
// Mapping a stack costs system calls and page faults; reusing one that a
// finished goroutine left costs neither. Each worker keeps a small pool of its
// own (no lock: only the owning worker touches it); the runtime keeps a shared
// one, under a lock, that takes a worker's surplus in batches and refills an
// empty worker pool. Memory is given back in two steps: stacks beyond the
// shared pool's "hot" count return their pages to the kernel (MADV_DONTNEED)
// but stay mapped; stacks beyond its capacity are unmapped.
#ifndef GORO_DETAIL_STACK_POOL_HPP
#define GORO_DETAIL_STACK_POOL_HPP

#include "../config.hpp"
#include "spin_lock.hpp"
#include "stack.hpp"

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
class shared_stack_pool {
 public:
  /// Stacks a worker keeps before passing half of them on.
  static constexpr std::size_t worker_max = 64;
  /// Stacks moved at once between a worker and the shared pool.
  static constexpr std::size_t batch = 32;
  /// Stacks the shared pool keeps with their memory; beyond this, pages go back.
  static constexpr std::size_t hot = 256;
  /// Stacks the shared pool keeps at all; beyond this, they are unmapped.
  static constexpr std::size_t capacity = 16384;

  explicit shared_stack_pool(std::size_t stack_bytes) noexcept : stack_bytes_(stack_bytes) {}

  std::size_t stack_bytes() const noexcept { return stack_bytes_; }

  /// A stack for a new goroutine, from `local` (refilled from the shared pool
  /// when empty) or freshly mapped. Throws as stack::stack does.
  stack take(stack_pool& local) {
    if (local.empty()) {
      std::lock_guard<spin_lock> guard(lock_);
      shared_.move_to(local, batch);
    }
    if (!local.empty()) return local.take();
    return stack(stack_bytes_);
  }

  /// A stack for a goroutine started outside any worker.
  stack take() {
    {
      std::lock_guard<spin_lock> guard(lock_);
      if (!shared_.empty()) return shared_.take();
    }
    return stack(stack_bytes_);
  }

  /// Takes back a finished goroutine's stack into `local`, passing a batch on
  /// when `local` is full.
  void give(stack_pool& local, stack&& s) {
    local.give(std::move(s));
    if (local.size() <= worker_max) return;
    std::vector<stack> surplus;
    surplus.reserve(batch);
    while (surplus.size() < batch) surplus.push_back(local.take());
    // Outside the lock: madvise and munmap are system calls.
    std::size_t kept = 0;
    {
      std::lock_guard<spin_lock> guard(lock_);
      kept = shared_.size();
    }
    for (stack& st : surplus) {
      if (kept >= capacity) {
        stack gone(std::move(st));  // unmapped here
        continue;
      }
      if (kept >= hot) st.release_memory();
      ++kept;
    }
    std::lock_guard<spin_lock> guard(lock_);
    for (stack& st : surplus) {
      if (st) shared_.give(std::move(st));
    }
  }

 private:
  const std::size_t stack_bytes_;
  spin_lock lock_;
  stack_pool shared_;
};

}  // namespace goro::detail

#endif
