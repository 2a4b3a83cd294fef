// memory_advice.hpp: madvise over many address ranges with one system call.
//
// The stack code advises the kernel about many small ranges at once: a batch
// of new stacks needs a guard each (MADV_GUARD_INSTALL) and its top page in
// memory (MADV_POPULATE_WRITE); stacks trimmed from a pool give their memory
// back (MADV_DONTNEED). One madvise per range costs a system call each, and
// on a virtual machine a system call is ~1 us and a page fault on fresh
// memory 14-21 us (docs/design.md, "Stacks"). process_madvise(2) takes a
// vector of ranges: since Linux 6.13 it accepts any advice when the target
// is the calling process, and since 6.15 the target can be named without a
// descriptor (PIDFD_SELF_THREAD: the calling thread, whose memory is the
// process's). Where either is missing (older kernels, seccomp filters that
// refuse the call, emulators and valgrind that do not know it) the first
// call finds out and every later one goes range by range.
//
// No descriptor from pidfd_open() is kept instead: a child forked without
// exec would inherit it and advise its parent's memory.
#ifndef GORO_DETAIL_MEMORY_ADVICE_HPP
#define GORO_DETAIL_MEMORY_ADVICE_HPP

#include "sanitizer.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstddef>

namespace goro::detail {

#if defined(__linux__) && defined(SYS_process_madvise)
#define GORO_HAVE_PROCESS_MADVISE 1
#define GORO_SYS_PROCESS_MADVISE SYS_process_madvise
#elif defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define GORO_HAVE_PROCESS_MADVISE 1
#define GORO_SYS_PROCESS_MADVISE 440  // the same on both; older C libraries lack the name
#else
#define GORO_HAVE_PROCESS_MADVISE 0
#endif

#if GORO_HAVE_PROCESS_MADVISE
/// The kernel's PIDFD_SELF_THREAD (Linux 6.15): a pidfd argument meaning the
/// calling thread's own process. Spelled out because headers may lack it.
constexpr int pidfd_self_thread = -10000;
#endif

/// Whether advice over several ranges goes to the kernel in one call here:
/// unknown until the first try, then settled for the process.
enum class batched_advice : int { unknown, works, unavailable };

inline std::atomic<batched_advice>& batched_advice_state() noexcept {
  static std::atomic<batched_advice> state{batched_advice::unknown};
  return state;
}

/// Gives `advice` for ranges[0..n) with one process_madvise call. True when
/// the kernel took all of it; false when it did not (the call is missing or
/// refused: then it is not tried again in this process; or the advice failed
/// for some range: then any prefix of the ranges may have been advised).
/// Never falls back to one call per range.
inline bool advise_ranges_batched(const iovec* ranges, std::size_t n, int advice) noexcept {
#if GORO_HAVE_PROCESS_MADVISE
  constexpr std::size_t max_ranges = 1024;  // UIO_MAXIOV
  const batched_advice state = batched_advice_state().load(std::memory_order_relaxed);
  if (state == batched_advice::unavailable) return false;
  if (state == batched_advice::unknown && sanitizer::under_valgrind()) {
    // valgrind does not know the call and says so on stderr: not tried.
    batched_advice_state().store(batched_advice::unavailable, std::memory_order_relaxed);
    return false;
  }
  while (n != 0) {
    const std::size_t chunk = n < max_ranges ? n : max_ranges;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < chunk; ++i) bytes += ranges[i].iov_len;
    const long done =
        ::syscall(GORO_SYS_PROCESS_MADVISE, pidfd_self_thread, ranges, chunk, advice, 0u);
    if (done < 0 && (errno == ENOSYS || errno == EBADF || errno == EPERM)) {
      // No such call, no PIDFD_SELF_THREAD (before 6.15), or a filter that
      // refuses it: none of these is about the advice, and none will change.
      batched_advice_state().store(batched_advice::unavailable, std::memory_order_relaxed);
      return false;
    }
    if (done < 0 || static_cast<std::size_t>(done) != bytes) return false;
    if (state != batched_advice::works) {  // a store only the first time
      batched_advice_state().store(batched_advice::works, std::memory_order_relaxed);
    }
    ranges += chunk;
    n -= chunk;
  }
  return true;
#else
  (void)ranges;
  (void)n;
  (void)advice;
  return false;
#endif
}

/// Gives `advice` for ranges[0..n): in one call where the kernel allows it,
/// else one madvise per range. Returns 0, or the errno of the first range
/// the kernel refused (the ranges before it are advised, the rest may be).
/// Every advice goro gives is idempotent, so a range the batched call
/// already covered is simply advised again.
inline int advise_ranges(const iovec* ranges, std::size_t n, int advice) noexcept {
  if (n == 0 || advise_ranges_batched(ranges, n, advice)) return 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (::madvise(ranges[i].iov_base, ranges[i].iov_len, advice) != 0) return errno;
  }
  return 0;
}

/// Whether advise_each may go range by range when the batched call is not
/// available.
enum class advice_fallback { range_by_range, none };

/// Gives `advice` for the n ranges range_of(0) .. range_of(n - 1) (each an
/// iovec), 64 to a call, from a buffer on the stack (nothing allocates).
/// Returns 0 or an errno as advise_ranges does; with advice_fallback::none
/// only batched calls are made, and ENOTSUP says one was not taken.
template <class RangeOf>
int advise_each(std::size_t n, RangeOf range_of, int advice,
                advice_fallback fallback = advice_fallback::range_by_range) noexcept {
  constexpr std::size_t chunk = 64;
  iovec ranges[chunk];
  for (std::size_t i = 0; i < n;) {
    std::size_t k = 0;
    for (; k < chunk && i < n; ++k, ++i) ranges[k] = range_of(i);
    if (fallback == advice_fallback::none) {
      if (!advise_ranges_batched(ranges, k, advice)) return ENOTSUP;
    } else if (int err = advise_ranges(ranges, k, advice); err != 0) {
      return err;
    }
  }
  return 0;
}

}  // namespace goro::detail

#endif
