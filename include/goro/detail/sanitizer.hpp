// sanitizer.hpp: telling AddressSanitizer, ThreadSanitizer and valgrind about
// our stacks and switches. Without this every report under them is noise:
// ASan would see accesses to "unknown" stacks and stale fake frames, TSan would
// merge every goroutine of a thread into one history, valgrind would take a
// switch for a wild stack-pointer change. Each function is empty otherwise.
#ifndef GORO_DETAIL_SANITIZER_HPP
#define GORO_DETAIL_SANITIZER_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>

#if defined(GORO_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GORO_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_set_fiber_name(void* fiber, const char* name);
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
  bool owns_tsan_fiber = false;        ///< tsan_fiber (once it is set) is ours to give back
#if defined(GORO_TSAN)
  /// Its execution ends with nothing of it left on the TSan fiber's shadow
  /// stack (see init_fresh), so the fiber may serve another context. TSan
  /// builds only, like `finished` and `name_id`: a spawn elsewhere does not
  /// store them.
  bool frameless_exit = false;
  bool finished = false;      ///< it made its final switch (before_switch)
  std::uint64_t name_id = 0;  ///< names its fiber "goroutine <id>" (0: no name)
#endif
};

#if defined(GORO_TSAN_FIBER_REUSE)
/// The TSan fibers of contexts that finished and were destroyed on this
/// thread, kept for the next fresh contexts it starts. TSan gives every
/// fiber a thread's state, about 800 KiB zeroed on creation: 2.6 ms and 190
/// page faults per goroutine where a page fault costs 14 us (the CI host of
/// 2026-12-01), most of the time of a goroutine-heavy test under TSan.
///
/// Reuse adds no happens-before edge TSan did not already draw. A fiber is
/// one timeline to TSan, so the next goroutine on it is ordered after all
/// its predecessor did; but that predecessor was destroyed on this thread,
/// after its final switch to this thread's scheduling context, and every
/// switch synchronises (before_switch's flag 0), so whatever this thread
/// runs later, the goroutine that takes the fiber included, was ordered
/// after it already. A cache shared between threads would not be.
///
/// Hence a fresh context takes its fiber when it first runs, on the thread
/// that runs it (start_fiber), not where it was created: a goroutine that
/// go() made on one thread and that finished on another would otherwise
/// leave its fiber where no go() comes (the main thread starting goroutines
/// that run on the workers found its cache always empty). What reuse does
/// change in a report is the "created at" stack of the fiber's thread: that
/// of the first context the fiber served; the name start_fiber gives it is
/// current.
class tsan_fiber_cache {
 public:
  /// Fibers kept per thread: enough for the bursts of short goroutines a
  /// worker starts between two switches of its own (test_registry's
  /// spawners start 32), at about 26 MiB of TSan state per thread.
  static constexpr std::size_t capacity = 32;

  tsan_fiber_cache() = default;
  tsan_fiber_cache(const tsan_fiber_cache&) = delete;
  tsan_fiber_cache& operator=(const tsan_fiber_cache&) = delete;
  ~tsan_fiber_cache() {
    while (count_ > 0) __tsan_destroy_fiber(fibers_[--count_]);
  }

  /// A cached fiber, or nullptr when there is none.
  void* take() noexcept { return count_ > 0 ? fibers_[--count_] : nullptr; }

  /// Keeps `fiber` (whose shadow stack is empty) if there is room.
  bool give(void* fiber) noexcept {
    if (count_ == capacity) return false;
    fibers_[count_++] = fiber;
    return true;
  }

 private:
  void* fibers_[capacity] = {};
  std::size_t count_ = 0;
};

/// The calling thread's cache. A TLS accessor: callers may have switched.
GORO_TLS_ACCESSOR inline tsan_fiber_cache& tsan_fibers() noexcept {
  GORO_TLS_BARRIER();
  static thread_local tsan_fiber_cache cache;
  return cache;
}
#endif

#if defined(GORO_TSAN)
/// Gives `f` its TSan fiber: one from the calling thread's cache when there
/// is one (GORO_TSAN_FIBER_REUSE builds call this as `f` first runs), else a
/// new one.
__attribute__((noinline)) inline void start_fiber(fiber_state& f) noexcept {
  void* fiber = nullptr;
#if defined(GORO_TSAN_FIBER_REUSE)
  fiber = tsan_fibers().take();
#endif
  f.tsan_fiber = fiber != nullptr ? fiber : __tsan_create_fiber(0);
  if (f.name_id != 0) {
    char name[32];
    std::snprintf(name, sizeof name, "goroutine %llu", static_cast<unsigned long long>(f.name_id));
    __tsan_set_fiber_name(f.tsan_fiber, name);
  }
}
#endif

/// A context that starts on a stack of ours; `id` names it in TSan reports
/// ("goroutine <id>"; 0: no name). `frameless_exit` promises that its entry
/// function, and every function its execution never returns from, are
/// GORO_TSAN_NO_FRAME: then a finished context's fiber goes back to the
/// thread's cache for the next fresh context, rather than to TSan.
inline void init_fresh(fiber_state& f, const void* bottom, std::size_t size, std::uint64_t id,
                       bool frameless_exit) noexcept {
  f.stack_bottom = bottom;
  f.stack_size = size;
#if defined(GORO_TSAN)
  f.frameless_exit = frameless_exit;
  f.name_id = id;
  f.owns_tsan_fiber = true;
#if !defined(GORO_TSAN_FIBER_REUSE)
  start_fiber(f);  // else when it first runs (before_switch)
#endif
#else
  (void)id;
  (void)frameless_exit;
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
  if (f.owns_tsan_fiber && f.tsan_fiber != nullptr) {
    bool kept = false;
#if defined(GORO_TSAN_FIBER_REUSE)
    // Only a fiber whose shadow stack is empty again: a context destroyed
    // while suspended (a runtime torn down under parked goroutines) still has
    // its frames on it.
    kept = f.frameless_exit && f.finished && tsan_fibers().give(f.tsan_fiber);
#endif
    if (!kept) __tsan_destroy_fiber(f.tsan_fiber);
  }
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
  if (from_finished) from.finished = true;
#if defined(GORO_TSAN_FIBER_REUSE)
  // Its first run: the fiber comes from this thread's cache (see
  // tsan_fiber_cache). start_fiber has returned before the switch below.
  if (__builtin_expect(to.tsan_fiber == nullptr, 0)) start_fiber(to);
#endif
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

/// Whether this process runs under valgrind (only known where its header
/// was found; false elsewhere).
inline bool under_valgrind() noexcept {
#if defined(GORO_VALGRIND)
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
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
