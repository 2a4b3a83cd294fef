// exception_state.hpp: the C++ runtime's per-thread exception state, kept per
// execution context instead.
//
// The Itanium C++ ABI (GCC's libstdc++/libsupc++, LLVM's libc++abi) keeps the
// chain of exceptions currently caught, and the count of exceptions in flight,
// in a per-thread structure reached through __cxa_get_globals(). A goroutine
// that parks inside a `catch` block and another that throws on the same worker
// would otherwise corrupt that chain, and a goroutine that migrates would take
// its chain to the wrong thread. So each context saves this state when it
// switches away and the state of the context being resumed is installed.
#ifndef GORO_DETAIL_EXCEPTION_STATE_HPP
#define GORO_DETAIL_EXCEPTION_STATE_HPP

#include "../config.hpp"

#include <cxxabi.h>
#include <cstring>

namespace goro::detail {

/// A copy of the thread's __cxa_eh_globals: caught-exception chain and
/// uncaught-exception count (two words in both ABIs' layouts; ARM EHABI adds a
/// third, which we carry too).
struct exception_state {
  void* words[3] = {nullptr, nullptr, nullptr};
};

/// The address of the calling thread's exception globals. __cxa_get_globals is
/// declared `const`, so the compiler may reuse one call's result after a switch
/// that moved us to another thread; calling it through a noinline function
/// keeps each call a real call on the thread we are on now.
GORO_TLS_ACCESSOR inline void* thread_exception_globals() noexcept {
  GORO_TLS_BARRIER();
  return static_cast<void*>(abi::__cxa_get_globals());
}

/// Size of the ABI structure we carry.
#if defined(__ARM_EABI_UNWINDER__)
inline constexpr std::size_t exception_state_bytes = 3 * sizeof(void*);
#else
inline constexpr std::size_t exception_state_bytes = 2 * sizeof(void*);
#endif

/// Saves the thread's state (at `g`, from thread_exception_globals() on the
/// calling thread) into `out` and installs `in` in its place. Called on the
/// switching thread, just before it leaves `out`'s context for `in`'s.
inline void swap_exception_state(void* g, exception_state& out,
                                 const exception_state& in) noexcept {
  std::memcpy(out.words, g, exception_state_bytes);
  std::memcpy(g, in.words, exception_state_bytes);
}

}  // namespace goro::detail

#endif
