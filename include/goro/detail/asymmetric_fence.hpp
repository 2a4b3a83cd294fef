// asymmetric_fence.hpp: a store-load fence whose cost falls on the rare side.
//
// A Dekker-style handshake (one side stores A then loads B, the other stores
// B then loads A; at least one must see the other's store) needs a full
// fence on both sides: a locked instruction, 20 or more cycles. When one side
// runs on every spawn and exit and the other only when a dump or a deadlock
// check starts (g_registry.hpp), Linux's membarrier(PRIVATE_EXPEDITED) moves
// that cost: it makes every running thread of the process pass a full
// barrier before it returns, so the frequent side needs only a compiler
// barrier and the rare side pays a system call (a few microseconds and an
// interrupt to each CPU running one of our threads).
//
// Where membarrier is missing (a kernel older than 4.14, a seccomp filter
// that refuses it, a system other than Linux), expedited() is false and both
// sides use a real fence: correct, and no dearer than a lock.
//
// Invariant: light(e) and heavy(e) pair only when both are given the same
// expedited() value; heavy(true) never degrades to a plain fence (if
// membarrier fails after a successful registration the pairing would be
// broken, so that is a fatal error).
#ifndef GORO_DETAIL_ASYMMETRIC_FENCE_HPP
#define GORO_DETAIL_ASYMMETRIC_FENCE_HPP

#include "../config.hpp"
#include "spin_lock.hpp"

#include <sched.h>

#include <atomic>

#if defined(__linux__) && __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(SYS_membarrier)
#define GORO_HAVE_MEMBARRIER 1
#endif
#endif

namespace goro::detail {

/// The pair of fences of an asymmetric handshake. See the file comment.
struct asymmetric_fence {
  /// Whether membarrier(PRIVATE_EXPEDITED) is available to this process;
  /// the first call registers the process for it (one system call, once).
  static bool expedited() noexcept {
    static const bool available = register_expedited();
    return available;
  }

  /// The frequent side's fence: orders its earlier stores before its later
  /// loads as seen by a thread that calls heavy(expedited).
  GORO_ALWAYS_INLINE static void light(bool expedited) noexcept {
    if (expedited) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      full_fence();
    }
  }

  /// The rare side, after heavy(): waits until the frequent side's `busy`
  /// flag is clear. The frequent side holds it for a few stores, unless its
  /// thread was descheduled there: past a short spin, yield the CPU to it.
  template <class T>
  static void wait_until_clear(const std::atomic<T>& busy) noexcept {
    for (int spins = 0; busy.load(std::memory_order_acquire) != T{}; ++spins) {
      if (spins < 64) {
        cpu_relax();
      } else {
        sched_yield();
      }
    }
  }

  /// The rare side's fence. See light().
  static void heavy(bool expedited) noexcept {
#if defined(GORO_HAVE_MEMBARRIER)
    if (expedited) {
      if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
        fatal("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after its registration");
      }
      return;
    }
#else
    (void)expedited;
#endif
    full_fence();
  }

 private:
  static bool register_expedited() noexcept {
#if defined(GORO_HAVE_MEMBARRIER)
    const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
  }
};

}  // namespace goro::detail

#endif
