// spin_lock.hpp: the lock that guards goro's own short critical sections
// (a channel's queues, a wait list, the global run queue).
//
// Critical sections under it are a few dozen instructions and never block, so
// spinning beats parking; after a short spin it yields the CPU, which matters
// on machines with fewer cores than runnable threads. A goroutine may hold it
// across a switch only in the park protocol, where the scheduler releases it
// right after the switch (scheduler.hpp, "park").
#ifndef GORO_DETAIL_SPIN_LOCK_HPP
#define GORO_DETAIL_SPIN_LOCK_HPP

#include "../config.hpp"

#include <sched.h>

#include <atomic>

namespace goro::detail {

/// One pause instruction: tells the CPU we are spinning.
GORO_ALWAYS_INLINE void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield" ::: "memory");
#endif
}

/// A sequentially consistent fence, for the Dekker-style handshakes of the
/// scheduler. ThreadSanitizer does not model fences (GCC refuses them under
/// -fsanitize=thread), so there a seq_cst read-modify-write stands in: a full
/// barrier on every real CPU, and an operation TSan understands.
GORO_ALWAYS_INLINE void full_fence() noexcept {
#if defined(GORO_TSAN)
  static std::atomic<int> dummy{0};
  dummy.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

/// A test-and-test-and-set lock with exponential backoff. Meets BasicLockable.
///
/// Why backoff: every look a waiter takes at the lock pulls its cache line
/// away from the holder, whose unlock, and whose next lock a few nanoseconds
/// later, must then take it back. With two workers hammering one channel
/// (W3), waiters that looked after every pause kept the line in flight and
/// ran 2x slower than Go; waiters that double their pause up to max_backoff
/// let the holder run a batch of operations on a warm line (W3 with two
/// workers went from 231 to 79 ms, Go: 140 ms; docs/design.md, "Locks").
class spin_lock {
 public:
  /// Longest pause, in pause instructions, between two looks at the lock
  /// (a pause costs 10-140 cycles depending on the CPU).
  static constexpr int max_backoff = 64;
  /// Pauses before a waiter starts yielding the CPU instead: the holder may
  /// have been preempted (more runnable threads than cores). A critical
  /// section is well under a microsecond; 128 pauses (3 to 10 us, depending
  /// on the CPU's pause) only run out when the holder is not running, and on
  /// a busy machine every microsecond spun then is taken from the threads
  /// that are (docs/design.md, "Spinning on a busy machine").
  static constexpr int spin_budget = 128;

  /// Takes the lock. The uncontended exchange is inlined into every caller
  /// and the wait is out of line: left to the inliner, lock() as a whole was
  /// inlined or not depending on how much other code the translation unit
  /// had (a 6% swing in W4's instruction count from an unrelated change).
  GORO_ALWAYS_INLINE void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_contended();
  }
  /// One exchange, without a look first: for a fast path that, when it
  /// fails, goes out of line and calls lock() (chan_core.hpp).
  GORO_ALWAYS_INLINE bool try_lock_once() noexcept {
    return !locked_.exchange(true, std::memory_order_acquire);
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

  /// The unlock function in the shape the park protocol takes (arg: the lock).
  static void unlock_fn(void* self) noexcept { static_cast<spin_lock*>(self)->unlock(); }

 private:
  /// lock() once the lock was seen taken: waits with backoff, then takes it.
  __attribute__((noinline)) void lock_contended() noexcept {
    int backoff = 1;  // pauses between two looks at the lock
    int paused = 0;   // pauses so far; past spin_budget, yield the CPU instead
    for (;;) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (paused < spin_budget) {
          for (int i = 0; i < backoff; ++i) cpu_relax();
          paused += backoff;
          if (backoff < max_backoff) backoff *= 2;
        } else {
          sched_yield();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }
  std::atomic<bool> locked_{false};
};

}  // namespace goro::detail

#endif
