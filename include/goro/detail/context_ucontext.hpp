// context_ucontext.hpp: the portable context switch, on POSIX ucontext.
//
// Chosen with -DGORO_USE_UCONTEXT, and automatically where goro has no
// assembly. It offers the same two operations as the assembly versions
// (make_frame, jump) so everything above it is shared. swapcontext also saves
// and restores the signal mask with a system call, which makes it about 35
// times slower than the assembly switch (W7 in docs/benchmarks.md).
#ifndef GORO_DETAIL_CONTEXT_UCONTEXT_HPP
#define GORO_DETAIL_CONTEXT_UCONTEXT_HPP

#include "../config.hpp"

#include <ucontext.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace goro::detail::arch {

/// Entry function of a fresh execution: `transfer` is what the first switch to
/// it passed; it must never return.
using entry_fn = void (*)(void* transfer, void* arg);

/// A suspended execution. For a running execution that switched away it lives
/// in that execution's own `jump` frame; for a fresh one, at the top of its stack.
struct uc_frame {
  ucontext_t uc;
  void* transfer = nullptr;  ///< set by whoever resumes this execution
  entry_fn entry = nullptr;  ///< fresh executions only
  void* arg = nullptr;       ///< fresh executions only
};

/// makecontext passes only ints, so the frame's address travels in two
/// halves (the high one is 0 where pointers are 32 bits). Never returns, so
/// GORO_TSAN_NO_FRAME (see sanitizer::init_fresh).
[[noreturn]] GORO_TSAN_NO_FRAME inline void uc_trampoline(unsigned hi, unsigned lo) noexcept {
  const std::uint64_t bits = (std::uint64_t{hi} << 32) | std::uint64_t{lo};
  auto* f = reinterpret_cast<uc_frame*>(static_cast<std::uintptr_t>(bits));
  f->entry(f->transfer, f->arg);
  fatal("a context entry function returned");
}

/// Prepares [bottom, bottom + size) to start by calling entry(transfer, arg);
/// returns the handle that `jump` resumes.
inline void* make_frame(void* bottom, std::size_t size, entry_fn entry, void* arg) noexcept {
  auto top =
      (reinterpret_cast<std::uintptr_t>(bottom) + size - sizeof(uc_frame)) & ~std::uintptr_t{63};
  auto* f = new (reinterpret_cast<void*>(top)) uc_frame;
  f->entry = entry;
  f->arg = arg;
  if (getcontext(&f->uc) != 0) fatal("getcontext failed");
  f->uc.uc_stack.ss_sp = bottom;
  f->uc.uc_stack.ss_size = top - reinterpret_cast<std::uintptr_t>(bottom);
  f->uc.uc_link = nullptr;
  const std::uint64_t p = reinterpret_cast<std::uintptr_t>(f);
  makecontext(&f->uc, reinterpret_cast<void (*)()>(&uc_trampoline), 2,
              static_cast<unsigned>(p >> 32), static_cast<unsigned>(p & 0xffffffffu));
  return f;
}

/// Suspends the calling execution (its handle goes to *save_sp) and resumes
/// the one behind load_sp, which sees `transfer`. Returns what the execution
/// that later resumes this one passed. GORO_TSAN_NO_FRAME: a finishing
/// context's exit_to calls it and never returns (sanitizer::init_fresh).
GORO_TSAN_NO_FRAME inline void* jump(void** save_sp, void* load_sp, void* transfer) noexcept {
  uc_frame self;
  *save_sp = &self;
  auto* other = static_cast<uc_frame*>(load_sp);
  other->transfer = transfer;
  if (swapcontext(&self.uc, &other->uc) != 0) fatal("swapcontext failed");
  return self.transfer;
}

}  // namespace goro::detail::arch

#endif
