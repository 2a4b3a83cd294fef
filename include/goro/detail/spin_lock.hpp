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

/// A test-and-test-and-set lock. Meets BasicLockable.
class spin_lock {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          cpu_relax();
        } else {
          sched_yield();
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

  /// The unlock function in the shape the park protocol takes (arg: the lock).
  static void unlock_fn(void* self) noexcept { static_cast<spin_lock*>(self)->unlock(); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace goro::detail

#endif
