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
#ifndef GORO_DETAIL_STACK_HPP
#define GORO_DETAIL_STACK_HPP

#include "../config.hpp"
#include "sanitizer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
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

/// The system page size, read once.
inline std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

/// Bytes of guard below every stack: several pages, so that one large frame
/// cannot step over it into the neighbouring mapping.
inline std::size_t guard_bytes() noexcept { return 4 * page_size(); }

/// The smallest usable stack goro hands out.
inline constexpr std::size_t min_stack_bytes = 16 * 1024;

/// How guards are installed in this process: probed on first use.
enum class guard_method : int { unknown, madvise_guard, mprotect };

inline std::atomic<guard_method>& guard_method_in_use() noexcept {
  static std::atomic<guard_method> method{guard_method::unknown};
  return method;
}

/// An owning, movable handle to one mapped stack with its guard.
/// Invariant: either empty (base_ == nullptr) or [base_, base_ + mapped_) is
/// mapped by us, its first guard_bytes() are the guard, the rest is usable.
class stack {
 public:
  /// An empty handle.
  stack() noexcept = default;

  /// Maps a stack with at least `usable_bytes` usable bytes (rounded up to whole
  /// pages, and to min_stack_bytes). Throws std::bad_alloc when the address
  /// space or the kernel's map table is exhausted, std::system_error for any
  /// other failure; nothing is leaked either way.
  explicit stack(std::size_t usable_bytes) {
    stack s[1];
    map_many(usable_bytes, 1, s);
    swap(s[0]);
  }

  /// Maps n stacks with one mmap (each with its own guard) into out[0..n).
  /// Mapping is a system call and, on virtual machines, a slow one; one call
  /// per batch instead of per goroutine matters when thousands start at once.
  /// Each stack is still unmapped on its own (munmap of part of a mapping).
  /// Throws like the constructor; on failure nothing stays mapped.
  static void map_many(std::size_t usable_bytes, std::size_t n, stack* out) {
    const std::size_t page = page_size();
    if (usable_bytes < min_stack_bytes) usable_bytes = min_stack_bytes;
    if (usable_bytes > (std::size_t{1} << 40) || n > 1024) throw std::bad_alloc();
    const std::size_t usable = (usable_bytes + page - 1) / page * page;
    const std::size_t guard = guard_bytes();
    const std::size_t each = usable + guard;
    void* p = MAP_FAILED;
    int map_error = ENOMEM;  // an injected fault fails as a full map table does
    if (!GORO_FAULT(stack_map)) {
      p = ::mmap(nullptr, each * n, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
      map_error = errno;
    }
    if (p == MAP_FAILED) throw_mapping_error(map_error, "map");
    for (std::size_t i = 0; i < n; ++i) {
      void* base = static_cast<char*>(p) + i * each;
      if (int err = install_guard(base, guard); err != 0) {
        for (std::size_t j = 0; j < i; ++j) out[j] = stack();
        ::munmap(static_cast<char*>(p) + i * each, each * (n - i));
        throw_mapping_error(err, "guard");
      }
      stack& s = out[i];
      s = stack();
      s.base_ = base;
      s.mapped_ = each;
      s.valgrind_id_ = sanitizer::register_stack(s.bottom(), s.size());
    }
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

  /// True when this handle owns a stack.
  explicit operator bool() const noexcept { return base_ != nullptr; }
  /// Lowest usable address (just above the guard).
  void* bottom() const noexcept { return static_cast<char*>(base_) + guard_bytes(); }
  /// One past the highest usable address; stacks grow down from here.
  void* top() const noexcept { return static_cast<char*>(base_) + mapped_; }
  /// Usable bytes.
  std::size_t size() const noexcept { return mapped_ - guard_bytes(); }

  void swap(stack& other) noexcept {
    std::swap(base_, other.base_);
    std::swap(mapped_, other.mapped_);
    std::swap(valgrind_id_, other.valgrind_id_);
  }

 private:
  [[noreturn]] static void throw_mapping_error(int err, const char* what) {
    if (err == ENOMEM) throw std::bad_alloc();
    throw std::system_error(err, std::generic_category(),
                            std::string("goro: cannot ") + what + " a goroutine stack");
  }

  // Returns 0 or an errno value. The first stack decides the method for the
  // process: guard install if the kernel has it and it is real, else (no
  // such advice, a sandbox refusing madvise, no file descriptor left for the
  // probe) mprotect, which always works where mmap does.
  static int install_guard(void* p, std::size_t guard) noexcept {
    if (GORO_FAULT(stack_guard)) return EPERM;
    auto& method = guard_method_in_use();
    const guard_method m = method.load(std::memory_order_relaxed);
    if (m == guard_method::madvise_guard) {
      return ::madvise(p, guard, GORO_MADV_GUARD_INSTALL) == 0 ? 0 : errno;
    }
    if (m == guard_method::unknown) {
      if (::madvise(p, guard, GORO_MADV_GUARD_INSTALL) == 0 && guard_is_real(p)) {
        method.store(guard_method::madvise_guard, std::memory_order_relaxed);
        return 0;
      }
      method.store(guard_method::mprotect, std::memory_order_relaxed);
    }
    return ::mprotect(p, guard, PROT_NONE) == 0 ? 0 : errno;
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
    if (base_ == nullptr) return;
    sanitizer::deregister_stack(valgrind_id_);
    ::munmap(base_, mapped_);
    base_ = nullptr;
  }

  void* base_ = nullptr;
  std::size_t mapped_ = 0;
  unsigned valgrind_id_ = 0;
};

}  // namespace goro::detail

#endif
