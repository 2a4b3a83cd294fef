// fault_injection.hpp: a test-only hook that makes the Nth stack mapping,
// guard install, worker thread start or allocation inside goro fail (or a
// runtime start see CET shadow stacks).
//
// Off (the default) GORO_FAULT(site) is the constant false and nothing here
// exists: zero cost. A test that defines GORO_FAULT_INJECTION (the same way in
// every translation unit: it changes inline functions) arms a site with
// fault::fail_nth(site, n); the nth time goro reaches that site from then on,
// it takes its failure path as if the system had refused (mmap ENOMEM, madvise
// or mprotect EPERM, std::thread EAGAIN, std::bad_alloc), and the site is
// disarmed again. tests/unit/test_faults.cpp checks that each gives the
// documented error and that the runtime and its channels keep working.
#ifndef GORO_DETAIL_FAULT_INJECTION_HPP
#define GORO_DETAIL_FAULT_INJECTION_HPP

#include "../config.hpp"

#if defined(GORO_FAULT_INJECTION)

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <new>
#include <system_error>

namespace goro::detail::fault {

/// The places a fault can be injected.
enum class site : int {
  stack_map,     ///< the mmap of a batch of goroutine stacks (fails as ENOMEM)
  stack_guard,   ///< installing one stack's guard (fails as EPERM)
  thread_start,  ///< starting a worker thread (fails as EAGAIN)
  allocation,    ///< a heap allocation goro makes: a channel buffer, a large goroutine function
  shadow_stack,  ///< pretend CET shadow stacks are on when a runtime starts (x86-64)
  count_,
};

struct state {
  std::atomic<long> countdown[static_cast<int>(site::count_)] = {};  ///< 0: disarmed
  std::atomic<long> injected[static_cast<int>(site::count_)] = {};   ///< faults injected so far
};

inline state& current() noexcept {
  static state s;
  return s;
}

/// Arms `s`: the nth time goro reaches it from now on fails (n = 1: the next
/// time); n = 0 disarms it.
inline void fail_nth(site s, long n) noexcept {
  current().countdown[static_cast<int>(s)].store(n, std::memory_order_seq_cst);
}

/// Faults injected at `s` since the process started.
inline long injected(site s) noexcept { return current().injected[static_cast<int>(s)].load(); }

/// Whether this arrival at `s` is the one to fail; counts arrivals while armed.
inline bool should_fail(site s) noexcept {
  std::atomic<long>& c = current().countdown[static_cast<int>(s)];
  long n = c.load(std::memory_order_relaxed);
  while (n > 0) {
    if (c.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) {
      if (n != 1) return false;
      current().injected[static_cast<int>(s)].fetch_add(1);
      return true;
    }
  }
  return false;
}

/// Throws std::bad_alloc if an allocation fault is due here.
inline void allocation_point() {
  if (should_fail(site::allocation)) throw_error(std::bad_alloc());
}

/// Throws what std::thread throws when the system refuses a thread, if a
/// thread_start fault is due here.
inline void thread_start_point() {
  if (should_fail(site::thread_start))
    throw_error(
        std::system_error(EAGAIN, std::generic_category(), "goro: injected fault: thread start"));
}

}  // namespace goro::detail::fault

#define GORO_FAULT(s) (::goro::detail::fault::should_fail(::goro::detail::fault::site::s))
#define GORO_FAULT_ALLOCATION() ::goro::detail::fault::allocation_point()
#define GORO_FAULT_THREAD_START() ::goro::detail::fault::thread_start_point()

#else

#define GORO_FAULT(s) false
#define GORO_FAULT_ALLOCATION() static_cast<void>(0)
#define GORO_FAULT_THREAD_START() static_cast<void>(0)

#endif

#endif
