// sanitizer.hpp: telling AddressSanitizer, ThreadSanitizer and valgrind about
// our stacks and switches. Without this every report under them is noise:
// ASan would see accesses to "unknown" stacks and stale fake frames, TSan would
// merge every goroutine of a thread into one history, valgrind would take a
// switch for a wild stack-pointer change. Each function is empty otherwise.
#ifndef GORO_DETAIL_SANITIZER_HPP
#define GORO_DETAIL_SANITIZER_HPP

#include "../config.hpp"

#include <cstddef>

#if defined(GORO_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GORO_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
#endif
#if defined(GORO_VALGRIND)
#include <valgrind/valgrind.h>
#endif

namespace goro::detail::sanitizer {

/// What the sanitizers need to know about one execution context.
struct fiber_state {
  const void* stack_bottom = nullptr;  ///< lowest address of its stack (ASan)
  std::size_t stack_size = 0;          ///< ASan
  void* asan_fake_stack = nullptr;     ///< ASan's saved fake-stack handle while suspended
  void* tsan_fiber = nullptr;          ///< TSan's fiber, or the thread's own
  bool owns_tsan_fiber = false;        ///< we created tsan_fiber and must destroy it
};

/// A context that starts on a stack of ours.
inline void init_fresh(fiber_state& f, const void* bottom, std::size_t size) noexcept {
  f.stack_bottom = bottom;
  f.stack_size = size;
#if defined(GORO_TSAN)
  f.tsan_fiber = __tsan_create_fiber(0);
  f.owns_tsan_fiber = true;
#endif
}

/// A context that stands for the calling thread's own execution; its stack
/// bounds are learnt the first time it is switched away from.
inline void init_thread(fiber_state& f) noexcept {
#if defined(GORO_TSAN)
  f.tsan_fiber = __tsan_get_current_fiber();
#else
  (void)f;
#endif
}

/// Releases what init_fresh created. Never called on the running context.
inline void destroy(fiber_state& f) noexcept {
#if defined(GORO_TSAN)
  if (f.owns_tsan_fiber && f.tsan_fiber != nullptr) __tsan_destroy_fiber(f.tsan_fiber);
  f.tsan_fiber = nullptr;
  f.owns_tsan_fiber = false;
#else
  (void)f;
#endif
}

/// Just before leaving `from` for `to`. `from_finished` says `from` will never
/// be resumed (ASan may then drop its fake stack).
///
/// Must run in the same stack frame as the jump itself, with no function
/// return in between: after __tsan_switch_to_fiber, TSan attributes every
/// instrumented function exit to the *new* fiber, so a return between here and
/// the jump would pop the other fiber's shadow stack (it underflows and TSan
/// crashes). Hence always inline, at every optimisation level.
GORO_ALWAYS_INLINE void before_switch(fiber_state& from, fiber_state& to,
                                      bool from_finished) noexcept {
#if defined(GORO_ASAN)
  __sanitizer_start_switch_fiber(from_finished ? nullptr : &from.asan_fake_stack, to.stack_bottom,
                                 to.stack_size);
#endif
#if defined(GORO_TSAN)
  // Flag 0: the switch synchronises, as a real hand-over between executions does.
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
  (void)from_finished;
}

/// First thing on arrival in `self` from `from` (self just resumed or started).
GORO_ALWAYS_INLINE void after_switch(fiber_state& self, fiber_state& from) noexcept {
#if defined(GORO_ASAN)
  __sanitizer_finish_switch_fiber(self.asan_fake_stack, &from.stack_bottom, &from.stack_size);
#endif
  (void)self;
  (void)from;
}

/// Registers a stack with valgrind; returns the id to deregister with.
inline unsigned register_stack(void* bottom, std::size_t size) noexcept {
#if defined(GORO_VALGRIND)
  return VALGRIND_STACK_REGISTER(bottom, static_cast<char*>(bottom) + size);
#else
  (void)bottom;
  (void)size;
  return 0;
#endif
}

/// Undoes register_stack.
inline void deregister_stack(unsigned id) noexcept {
#if defined(GORO_VALGRIND)
  VALGRIND_STACK_DEREGISTER(id);
#else
  (void)id;
#endif
}

}  // namespace goro::detail::sanitizer

#endif
