// stack.hpp: the memory a goroutine runs on.
//
// A stack is one anonymous mapping reserved with MAP_NORESERVE, so only the
// pages a goroutine actually touches cost memory, with a guard region at its
// low end (stacks grow down) that turns an overflow into a fault that
// overflow_handler.hpp reports. The guard is installed with
// MADV_GUARD_INSTALL where the kernel has it (Linux 6.13+): that marks page
// table entries and leaves the mapping whole, so neighbouring stacks merge into
// one kernel map entry and vm.max_map_count (65,530 by default) stops being a
// limit. Elsewhere the guard is an mprotect(PROT_NONE) region, which splits the
// mapping: each stack then costs two map entries and about 32,000 stacks
// exhaust the table.
//
// Stacks are mapped in batches (one mmap for several stacks, a "slab") and a
// slab is unmapped only as a whole, when its last stack is released: a stack
// released before its neighbours gives its memory back with
// MADV_DONTNEED, which leaves the mapping whole. Unmapping single stacks out
// of a batch would split the mapping at every hole: with goroutines ending in
// any order that can take a map entry per freed stack, run the process into
// vm.max_map_count, and then make later munmap calls fail (leaking the
// stacks). So the map entries goro uses are bounded by its slabs (or two per
// stack with mprotect guards), whatever the exit order; and since no call
// ever splits a mapping, a failing munmap or madvise is a bug, reported as a
// fatal error rather than ignored.
//
// The advice goes to the kernel per batch, not per stack, where it allows
// (memory_advice.hpp): a slab's guards in one call, the top page of each of
// its stacks (which every goroutine writes first) brought in with one more,
// and the memory of stacks released together given back with one call per
// slab. On a virtual machine each saved call or page fault is microseconds.
#ifndef GORO_DETAIL_STACK_HPP
#define GORO_DETAIL_STACK_HPP

#include "../config.hpp"
#include "memory_advice.hpp"
#include "sanitizer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <utility>

namespace goro::detail {

#if !defined(MAP_STACK)
#define MAP_STACK 0  // a hint only; absent on some systems (macOS)
#endif
#if !defined(MAP_NORESERVE)
#define MAP_NORESERVE 0
#endif

#if !defined(MADV_GUARD_INSTALL)
#define GORO_MADV_GUARD_INSTALL 102  // Linux uapi value; older headers lack it
#else
#define GORO_MADV_GUARD_INSTALL MADV_GUARD_INSTALL
#endif
#if !defined(MADV_POPULATE_WRITE)
#define GORO_MADV_POPULATE_WRITE 23  // Linux 5.14 uapi value; older headers lack it
#else
#define GORO_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#endif

/// The system page size, read once.
inline std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

/// Bytes of guard below every stack unless the runtime says otherwise
/// (runtime_options::stack_guard): 256 KiB, so that a frame that overflows
/// by less than that lands in the guard, and is reported, instead of
/// stepping over it into the stack below (another goroutine's live frames
/// and record). A guard costs address space only: no memory, and no extra
/// kernel map entry whatever its width (an mprotect guard is one entry, a
/// MADV_GUARD_INSTALL guard none). So the rule for a goroutine's own code
/// is: no single frame (a function's locals) as large as the guard, unless
/// built with -fstack-clash-protection, which touches every page of a large
/// frame in order (docs/api.md, stack_size). goro's own frames hold no
/// element larger than large_value_bytes (value_box.hpp). What the width
/// costs in time is the spacing it puts between the stacks' top pages
/// (docs/api.md, stack_guard).
inline constexpr std::size_t default_guard_bytes = 256 * 1024;
/// The narrowest guard goro installs; narrower requests are widened.
inline constexpr std::size_t min_guard_bytes = 16 * 1024;

/// The smallest usable stack goro hands out.
inline constexpr std::size_t min_stack_bytes = 16 * 1024;
/// The largest usable stack, and the widest guard, goro maps (1 TiB each):
/// more is a mistake, and the bound keeps the page rounding below from
/// wrapping.
inline constexpr std::size_t max_stack_bytes = std::size_t{1} << 40;

/// The widest guard of any stack mapped so far in this process, and at
/// least the default's: the overflow handler reports a fault this far below
/// the running stack's bottom as an overflow. Only grows.
inline std::atomic<std::size_t>& widest_guard() noexcept {
  static_assert(std::atomic<std::size_t>::is_always_lock_free, "read in a signal handler");
  static std::atomic<std::size_t> widest{default_guard_bytes};
  return widest;
}

/// Makes widest_guard() at least `guard`.
inline void widen_guard_window(std::size_t guard) noexcept {
  std::size_t seen = widest_guard().load(std::memory_order_relaxed);
  while (seen < guard &&
         !widest_guard().compare_exchange_weak(seen, guard, std::memory_order_relaxed)) {
  }
}

/// How guards are installed in this process: probed on first use.
enum class guard_method : int { unknown, madvise_guard, mprotect };

inline std::atomic<guard_method>& guard_method_in_use() noexcept {
  static std::atomic<guard_method> method{guard_method::unknown};
  return method;
}

struct stack_handle;

/// One mmap holding `count` stacks. Unmapped, whole, when the last of them is
/// released. Shared by those stacks; `live` counts the ones not yet released.
struct stack_slab {
  void* base = nullptr;
  std::size_t bytes = 0;
  std::size_t guard = 0;  ///< bytes of guard below each of its stacks
  std::atomic<std::size_t> live{0};

  /// Releases stacks h[0..k) of this slab, which the caller owns: their
  /// memory goes back to the kernel now (one call for all of them where the
  /// kernel allows it, memory_advice.hpp), the address range when the slab's
  /// last stack goes. May free the slab.
  void release(const stack_handle* h, std::size_t k) noexcept;

  /// munmap of a whole mapping that goro made: it splits nothing, so it
  /// cannot run out of map entries; a failure means a goro bug.
  static void unmap_whole(void* base, std::size_t bytes) noexcept {
    if (::munmap(base, bytes) != 0) fatal("munmap of a goroutine stack mapping failed");
  }
};

/// A free stack as a pool keeps it: the fields of a `stack`, without
/// ownership, trivially copyable, so that pools move them as plain words
/// (a `stack` moved through a std::vector cost W1 about 8 instructions per
/// goroutine). Whoever holds one owns the stack it names and must turn it
/// back into a `stack` (stack::adopt) to use or release it.
struct stack_handle {
  void* bottom;      ///< lowest usable address; slab->guard bytes of guard below
  std::size_t size;  ///< usable bytes
  stack_slab* slab;
  unsigned valgrind_id;
  /// The word its runtime's goroutine registry keeps for whatever runs on
  /// this stack (g_registry.hpp), given by the runtime's stack pool; null
  /// for a stack outside any pool.
  std::atomic<std::uintptr_t>* registry_slot;
};

/// An owning, movable handle to one mapped stack with its guard.
/// Invariant: either empty (bottom_ == nullptr) or [bottom_, bottom_ + size_)
/// is the usable part of one stack of slab_'s mapping, counted in
/// slab_->live, with slab_->guard bytes of guard right below it. Usable
/// bounds rather than the guard's base are kept because bottom() and size()
/// run on every go() and the guard's width is the slab's, on another line.
class stack {
 public:
  /// An empty handle.
  stack() noexcept = default;

  /// Maps a stack with at least `usable_bytes` usable bytes (rounded up to whole
  /// pages, and to min_stack_bytes) above a guard of `guard_bytes` (rounded
  /// up the same way, to min_guard_bytes). Throws std::bad_alloc when the
  /// address space or the kernel's map table is exhausted, std::system_error
  /// for any other failure; nothing is leaked either way.
  explicit stack(std::size_t usable_bytes, std::size_t guard_bytes = default_guard_bytes) {
    stack s[1];
    map_many(usable_bytes, 1, s, guard_bytes);
    swap(s[0]);
  }

  /// Maps n stacks with one mmap (each with its own guard) into out[0..n).
  /// Mapping is a system call and, on virtual machines, a slow one; one call
  /// per batch instead of per goroutine matters when thousands start at once.
  /// The mapping is unmapped whole, when the last of the n stacks is released
  /// (stack_slab); a stack released earlier only gives back its memory.
  /// Throws like the constructor; on failure nothing stays mapped.
  static void map_many(std::size_t usable_bytes, std::size_t n, stack* out,
                       std::size_t guard_bytes = default_guard_bytes) {
    map_many_into(usable_bytes, guard_bytes, n,
                  [out](std::size_t i, const stack_handle& h) { out[i] = adopt(h); });
  }

  /// map_many, into handles (for pools): out[0..n) own the new stacks.
  static void map_many(std::size_t usable_bytes, std::size_t n, stack_handle* out,
                       std::size_t guard_bytes = default_guard_bytes) {
    map_many_into(usable_bytes, guard_bytes, n,
                  [out](std::size_t i, const stack_handle& h) { out[i] = h; });
  }

  stack(stack&& other) noexcept { swap(other); }
  stack& operator=(stack&& other) noexcept {
    if (this != &other) {
      stack gone(std::move(*this));
      swap(other);
    }
    return *this;
  }
  stack(const stack&) = delete;
  stack& operator=(const stack&) = delete;
  ~stack() { unmap(); }

  /// Gives up ownership: returns the stack as a handle and leaves this empty.
  stack_handle release() noexcept {
    stack_handle h{bottom_, size_, slab_, valgrind_id_, registry_slot_};
    bottom_ = nullptr;
    size_ = 0;
    slab_ = nullptr;
    valgrind_id_ = 0;
    registry_slot_ = nullptr;
    return h;
  }

  /// Takes ownership of the stack `h` names (from release or map_many).
  static stack adopt(const stack_handle& h) noexcept {
    stack s;
    s.bottom_ = h.bottom;
    s.size_ = h.size;
    s.slab_ = h.slab;
    s.valgrind_id_ = h.valgrind_id;
    s.registry_slot_ = h.registry_slot;
    return s;
  }

  /// Unmaps the n stacks h[0..n), which the caller owns (from release() or a
  /// pool), with as few system calls as it can: the stacks of one slab give
  /// their memory back in one call, and a slab all of whose remaining stacks
  /// are among them is unmapped without that. Reorders h.
  static void release_all(stack_handle* h, std::size_t n) noexcept {
    std::sort(h, h + n, [](const stack_handle& a, const stack_handle& b) {
      return std::less<stack_slab*>()(a.slab, b.slab);
    });
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      for (; j < n && h[j].slab == h[i].slab; ++j) sanitizer::deregister_stack(h[j].valgrind_id);
      h[i].slab->release(h + i, j - i);
      i = j;
    }
  }

  /// True when this handle owns a stack.
  explicit operator bool() const noexcept { return bottom_ != nullptr; }
  /// Lowest usable address (just above the guard).
  void* bottom() const noexcept { return bottom_; }
  /// One past the highest usable address; stacks grow down from here.
  void* top() const noexcept { return static_cast<char*>(bottom_) + size_; }
  /// Usable bytes.
  std::size_t size() const noexcept { return size_; }
  /// Bytes of guard right below bottom(); only for a stack this handle owns.
  std::size_t guard() const noexcept { return slab_->guard; }
  /// See stack_handle::registry_slot.
  std::atomic<std::uintptr_t>* registry_slot() const noexcept { return registry_slot_; }

  void swap(stack& other) noexcept {
    std::swap(bottom_, other.bottom_);
    std::swap(size_, other.size_);
    std::swap(slab_, other.slab_);
    std::swap(valgrind_id_, other.valgrind_id_);
    std::swap(registry_slot_, other.registry_slot_);
  }

 private:
  // Maps n stacks with one mmap and passes each to emit(i, handle), which
  // must not throw; see map_many.
  template <class Emit>
  static void map_many_into(std::size_t usable_bytes, std::size_t guard_bytes, std::size_t n,
                            Emit emit) {
    const std::size_t page = page_size();
    usable_bytes = std::max(usable_bytes, min_stack_bytes);
    guard_bytes = std::max(guard_bytes, min_guard_bytes);
    if (usable_bytes > max_stack_bytes || guard_bytes > max_stack_bytes || n == 0 || n > 1024) {
      throw_error(std::bad_alloc());
    }
    const std::size_t usable = (usable_bytes + page - 1) / page * page;
    const std::size_t guard = (guard_bytes + page - 1) / page * page;
    const std::size_t each = usable + guard;
    GORO_FAULT_ALLOCATION();
    std::unique_ptr<stack_slab> slab(
        new stack_slab);  // before the mmap: nothing to undo if it throws
    void* p = MAP_FAILED;
    int map_error = ENOMEM;  // an injected fault fails as a full map table does
    if (!GORO_FAULT(stack_map)) {
      p = ::mmap(nullptr, each * n, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
      map_error = errno;
    }
    if (p == MAP_FAILED) throw_mapping_error(map_error, "map");
    if (int err = install_guards(static_cast<char*>(p), guard, each, n); err != 0) {
      stack_slab::unmap_whole(p, each * n);  // no stack handed out yet
      throw_mapping_error(err, "guard");
    }
    populate_tops(static_cast<char*>(p), each, n);
    slab->base = p;
    slab->bytes = each * n;
    slab->guard = guard;
    slab->live.store(n, std::memory_order_relaxed);
    widen_guard_window(guard);
    stack_slab* shared = slab.release();
    for (std::size_t i = 0; i < n; ++i) {
      void* bottom = static_cast<char*>(p) + i * each + guard;
      emit(i, stack_handle{bottom, usable, shared, sanitizer::register_stack(bottom, usable),
                           nullptr});
    }
  }

  [[noreturn]] static void throw_mapping_error(int err, const char* what) {
    if (err == ENOMEM) throw_error(std::bad_alloc());
    throw_error(std::system_error(err, std::generic_category(),
                                  std::string("goro: cannot ") + what + " a goroutine stack"));
  }

  // Installs the guards (`guard` bytes each) of the n stacks at p (`each`
  // bytes apart, the guard at the low end of each). Returns 0 or an errno
  // value. The first stack of the process decides the method: guard install
  // if the kernel has it and it is real, else (no such advice, a sandbox
  // refusing madvise, no file descriptor left for the probe) mprotect, which
  // always works where mmap does. Guard installs go to the kernel in one
  // call (advise_ranges).
  static int install_guards(char* p, std::size_t guard, std::size_t each, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      if (GORO_FAULT(stack_guard)) return EPERM;  // as a sandbox refusing the Nth
    }
    auto& method = guard_method_in_use();
    std::size_t first = 0;
    if (method.load(std::memory_order_relaxed) == guard_method::unknown) {
      const bool real = ::madvise(p, guard, GORO_MADV_GUARD_INSTALL) == 0 && guard_is_real(p);
      method.store(real ? guard_method::madvise_guard : guard_method::mprotect,
                   std::memory_order_relaxed);
      first = real ? 1 : 0;
    }
    if (method.load(std::memory_order_relaxed) == guard_method::mprotect) {
      for (std::size_t i = first; i < n; ++i) {
        if (::mprotect(p + i * each, guard, PROT_NONE) != 0) return errno;
      }
      return 0;
    }
    return advise_each(
        n - first,
        [=](std::size_t i) {
          return iovec{p + (first + i) * each, guard};
        },
        GORO_MADV_GUARD_INSTALL);
  }

  // Brings the top page of each of the n stacks at p into memory before any
  // goroutine runs there: every goroutine writes its first frames to it, and
  // a page fault on fresh memory costs 14-21 us on some virtual machines
  // against well under 1 us per page for the batch (docs/design.md,
  // "Stacks"). Only as one call for the batch, where the kernel allows it:
  // one call per stack would cost about what the faults do on bare metal.
  // Best effort: where it fails (memory short), the goroutine faults the
  // page in as it would have anyway.
  static void populate_tops(char* p, std::size_t each, std::size_t n) noexcept {
    const std::size_t page = page_size();
    (void)advise_each(
        n,
        [=](std::size_t i) {
          return iovec{p + (i + 1) * each - page, page};
        },
        GORO_MADV_POPULATE_WRITE, advice_fallback::none);
  }

  // Some emulators (qemu-user 7) accept MADV_GUARD_INSTALL and install
  // nothing. Checked once: the kernel must refuse to read the guard (a pipe
  // write from it fails with EFAULT). Without a pipe we cannot tell: false.
  static bool guard_is_real(void* p) noexcept {
    int fds[2];
    if (::pipe(fds) != 0) return false;
    const bool faulted = ::write(fds[1], p, 1) < 0 && errno == EFAULT;
    ::close(fds[0]);
    ::close(fds[1]);
    return faulted;
  }

  void unmap() noexcept {
    if (bottom_ == nullptr) return;
    stack_handle h = release();
    release_all(&h, 1);
  }

  void* bottom_ = nullptr;
  std::size_t size_ = 0;
  stack_slab* slab_ = nullptr;
  unsigned valgrind_id_ = 0;
  std::atomic<std::uintptr_t>* registry_slot_ = nullptr;
};

inline void stack_slab::release(const stack_handle* h, std::size_t k) noexcept {
  // Memory first, count second: once the count drops, another releaser may
  // unmap the whole slab. When the k are all that is left of the slab
  // (nobody else can release any), the munmap gives the memory back.
  const auto usable = [h](std::size_t i) { return iovec{h[i].bottom, h[i].size}; };
  if (live.load(std::memory_order_acquire) != k && advise_each(k, usable, MADV_DONTNEED) != 0) {
    fatal("madvise(MADV_DONTNEED) of a released goroutine stack failed");
  }
  if (live.fetch_sub(k, std::memory_order_acq_rel) == k) {
    unmap_whole(base, bytes);
    delete this;
  }
}

}  // namespace goro::detail

#endif
