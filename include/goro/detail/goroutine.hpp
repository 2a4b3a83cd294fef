// goroutine.hpp: the goroutine record ("G").
//
// A goroutine's record, its function object and its execution context all
// live at the top of its own stack (one mapping per goroutine, nothing on the
// heap): the record first, the function object just below it, the usable
// stack below that. So starting a goroutine from a pooled stack allocates
// nothing, and a parked goroutine costs the pages its stack touched and no more.
//
//   top ─┬──────────────────────┐
//        │ goroutine (record)   │
//        ├──────────────────────┤
//        │ function + arguments │
//        ├──────────────────────┤
//        │ usable stack  ↓      │
//        │                      │
//  bottom└──────────────────────┘ guard below
#ifndef GORO_DETAIL_GOROUTINE_HPP
#define GORO_DETAIL_GOROUTINE_HPP

#include "../config.hpp"
#include "context.hpp"
#include "stack.hpp"
#include "wait/reason.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace goro::detail {

class scheduler;

/// The states of a goroutine; every transition is asserted in debug builds.
///   runnable -> running           a worker picks it
///   running  -> runnable          it yields
///   running  -> waiting           it parks
///   waiting  -> runnable          something readies it
///   running  -> dead              its function returned
enum class g_status : std::uint8_t { runnable, running, waiting, dead };

/// What a goroutine asks its worker to do once it has switched away.
enum class g_request : std::uint8_t { none, park, yield, yield_global, exit };

/// A goroutine. Created by scheduler::spawn, destroyed by the worker that
/// runs its last switch. Fields are touched by the worker running it, except
/// where noted.
struct goroutine {
  /// Runs and then destroys the function object at `fn_storage`.
  using invoke_fn = void (*)(void* fn_storage);

  goroutine(stack&& s, scheduler* owner, std::uint64_t goid, invoke_fn inv, void* storage,
            std::size_t usable) noexcept
      : stk(std::move(s)),
        sched(owner),
        invoke(inv),
        fn_storage(storage),
        ctx(stk.bottom(), usable, &goroutine::entry, this, goid, /*frameless_entry=*/true) {}

  stack stk;                  ///< the mapping this record lives in; moved out at exit
  scheduler* sched;           ///< the runtime it belongs to
  invoke_fn invoke;           ///< runs the user's function
  void* fn_storage;           ///< the function object, just below this record
  goroutine* next = nullptr;  ///< link in the global run queue (owned by whoever holds it)
  std::atomic<g_status> status{g_status::runnable};
  g_request request = g_request::none;  ///< set just before switching to the worker
  // What a goroutine dump shows (see wait/reason.hpp), packed into what
  // would be padding where it can (the record's size decides how many cache
  // lines a spawn touches). The wait fields are stored by the goroutine
  // before it parks and read by dumps on any thread.
  std::atomic<wait_reason> reason{wait_reason::none};
  unsigned created_line = 0;  ///< where `go` was called, when known
  const char* created_file = nullptr;
  std::atomic<std::int64_t> wait_since{0};        ///< monitor's coarse clock (ns) when it parked
  std::atomic<const void*> wait_object{nullptr};  ///< the chan_core it waits on, or nullptr
  std::atomic<std::uint32_t> wait_capacity{0};    ///< that channel's capacity (saturated)
  /// Its execution, after the fields it refers to. ctx.id() is the goroutine
  /// id: 1, 2, ... in order of creation, process-wide.
  context ctx;

  /// First code a goroutine runs (defined in scheduler.hpp). It never
  /// returns, so GORO_TSAN_NO_FRAME (sanitizer::init_fresh).
  [[noreturn]] GORO_TSAN_NO_FRAME static void entry(void* self) noexcept;
};

/// Where things go in a stack of `s.size()` bytes: the record at the top, the
/// function object of type F below it, and how many bytes are left for the
/// context. Returns false if F does not fit in a quarter of the stack.
struct g_layout {
  void* record;
  void* fn;
  std::size_t usable;
};

template <class F>
bool layout_for(const stack& s, g_layout& out) noexcept {
  auto top = reinterpret_cast<std::uintptr_t>(s.top());
  auto rec = (top - sizeof(goroutine)) & ~std::uintptr_t{63};
  constexpr std::size_t align = alignof(F) < 16 ? 16 : alignof(F);
  if (sizeof(F) > s.size() / 4) return false;
  auto fn = (rec - sizeof(F)) & ~(std::uintptr_t{align} - 1);
  out.record = reinterpret_cast<void*>(rec);
  out.fn = reinterpret_cast<void*>(fn);
  out.usable = fn - reinterpret_cast<std::uintptr_t>(s.bottom());
  return true;
}

}  // namespace goro::detail

#endif
