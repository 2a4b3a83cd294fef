// context.hpp: an execution context — a stack plus the saved registers of
// an execution that is not running — and the one operation on it, switching.
//
// Everything a switch must carry besides registers is handled here, once:
// the C++ runtime's per-thread exception state (exception_state.hpp), the
// sanitizers' view of which stack is running (sanitizer.hpp), and the slot the
// stack-overflow handler reads (overflow_handler.hpp). The register switch
// itself is per architecture: context_x86_64.hpp, context_aarch64.hpp, or the
// ucontext fallback.
#ifndef GORO_DETAIL_CONTEXT_HPP
#define GORO_DETAIL_CONTEXT_HPP

#include "../config.hpp"
#include "exception_state.hpp"
#include "overflow_handler.hpp"
#include "sanitizer.hpp"
#include "shadow_stack.hpp"
#include "stack.hpp"

#if defined(GORO_USE_UCONTEXT)
#include "context_ucontext.hpp"
#elif defined(GORO_CONTEXT_X86_64)
#include "context_x86_64.hpp"
#elif defined(GORO_CONTEXT_AARCH64)
#include "context_aarch64.hpp"
#endif

#include <cstddef>
#include <cstdint>

namespace goro::detail {

/// The per-thread places a switch writes to, looked up once per thread by
/// whoever switches often (a scheduler worker caches them): the C++ runtime's
/// exception globals and the overflow handler's slot.
struct thread_switch_slots {
  void* exception_globals;
  const running_stack** running;
};

/// The calling thread's slots. Noinline, like every thread-local access that
/// may follow a switch: code can resume on another thread than it left.
GORO_TLS_ACCESSOR inline thread_switch_slots current_thread_switch_slots() noexcept {
  GORO_TLS_BARRIER();
  return {thread_exception_globals(), &running_stack_slot()};
}

/// An execution that can be suspended and resumed: either the calling
/// thread's own (default constructor), or a fresh one on a stack we own.
///
/// Invariants: a context is running on at most one thread at a time; only the
/// running context calls switch_to/exit_to on itself; a context being resumed
/// is suspended (it switched away, or is fresh). Contexts are neither copied
/// nor moved: the suspended execution's saved state refers to them.
class context {
 public:
  /// Entry of a fresh context. It must never return: it ends by exit_to().
  using entry_fn = void (*)(void* arg);

  /// Stands for the calling thread's own execution, to be saved into when the
  /// thread first switches to another context. Construct it on that thread.
  context() noexcept {
    sanitizer::init_thread(fiber_);
    ensure_overflow_handler();
  }

  /// A fresh execution on [bottom, bottom + size) that starts by calling
  /// entry(arg). `id` names it in a stack-overflow report and to
  /// ThreadSanitizer (goroutine id). `frameless_entry`: entry is
  /// GORO_TSAN_NO_FRAME and so is every function it calls without returning,
  /// exit_to aside (see sanitizer::init_fresh); only goroutine::entry is.
  context(void* bottom, std::size_t size, entry_fn entry, void* arg, std::uint64_t id = 0,
          bool frameless_entry = false) noexcept
      : entry_(entry), arg_(arg) {
    running_.bottom = bottom;
    running_.size = size;
    running_.id = id;
    report_ = &running_;
    sanitizer::init_fresh(fiber_, bottom, size, id, frameless_entry);
    sp_ = arch::make_frame(bottom, size, &context::start, this);
  }

  /// A fresh execution on the whole of `s` (which must outlive it).
  context(const stack& s, entry_fn entry, void* arg, std::uint64_t id = 0,
          bool frameless_entry = false) noexcept
      : context(s.bottom(), s.size(), entry, arg, id, frameless_entry) {}

  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// Must not be the running context.
  ~context() { sanitizer::destroy(fiber_); }

  /// Suspends the calling execution, which must be *this, and resumes `next`.
  /// Returns when something switches back to *this, possibly on another thread.
  /// `here` must be the calling thread's slots.
  void switch_to(context& next, const thread_switch_slots& here) noexcept {
    leave_for(next, here, false);
    auto* from = static_cast<context*>(arch::jump(&sp_, next.sp_, this));
    sanitizer::after_switch(fiber_, from->fiber_);
  }

  /// switch_to, looking the calling thread's slots up.
  void switch_to(context& next) noexcept { switch_to(next, current_thread_switch_slots()); }

  /// Like switch_to, for an execution that has finished: *this is never resumed
  /// and its stack may be reused as soon as `next` runs. GORO_TSAN_NO_FRAME,
  /// with the switch inlined into it: it never returns (sanitizer::init_fresh).
  [[noreturn]] GORO_TSAN_NO_FRAME void exit_to(context& next,
                                               const thread_switch_slots& here) noexcept {
    leave_for(next, here, true);
    arch::jump(&sp_, next.sp_, this);
    fatal("a finished context was resumed");
  }

  /// exit_to, looking the calling thread's slots up.
  [[noreturn]] GORO_TSAN_NO_FRAME void exit_to(context& next) noexcept {
    exit_to(next, current_thread_switch_slots());
  }

  /// The goroutine id given at construction (0 for plain contexts).
  std::uint64_t id() const noexcept { return running_.id; }

  /// The slot holding the saved stack pointer (arch handle) while suspended.
  /// Only for goroutine dumps (backtrace.hpp), which load it with a
  /// sanitizer-exempt read: the owner may switch while they look.
  void* const* saved_sp_slot() const noexcept { return &sp_; }

 private:
  // Runs on the switching thread, before the jump: `here` is still its own.
  // Inlined into the function that jumps (see sanitizer::before_switch).
  GORO_ALWAYS_INLINE void leave_for(context& next, const thread_switch_slots& here,
                                    bool finished) noexcept {
    swap_exception_state(here.exception_globals, eh_, next.eh_);
    *here.running = next.report_;
    sanitizer::before_switch(fiber_, next.fiber_, finished);
  }

  // Never returns: GORO_TSAN_NO_FRAME (sanitizer::init_fresh).
  [[noreturn]] GORO_TSAN_NO_FRAME static void start(void* transfer, void* self_ptr) noexcept {
    auto& self = *static_cast<context*>(self_ptr);
    sanitizer::after_switch(self.fiber_, static_cast<context*>(transfer)->fiber_);
    self.entry_(self.arg_);
    fatal("a context's entry function returned");
  }

  // What a switch reads of the context it resumes comes first, together in
  // one cache line: sp_, report_, eh_.
  void* sp_ = nullptr;  ///< saved stack pointer (arch handle) while suspended
  /// What the overflow slot holds while this runs: &running_ on a stack we
  /// own, nullptr on a thread's own stack. Precomputed because every switch
  /// stores it (testing running_.bottom there cost 4% of a switch, W7).
  const running_stack* report_ = nullptr;
  exception_state eh_;            ///< this execution's exception state while suspended
  sanitizer::fiber_state fiber_;  ///< what the sanitizers know of it
  running_stack running_;         ///< stack bounds for the overflow report
  entry_fn entry_ = nullptr;
  void* arg_ = nullptr;
};

}  // namespace goro::detail

#endif
