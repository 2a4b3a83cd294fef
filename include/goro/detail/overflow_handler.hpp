// overflow_handler.hpp: turning a stack overflow into a clear fatal error.
//
// A goroutine that overflows its stack touches the guard below it and gets
// SIGSEGV. The handler runs on an alternate signal stack (the faulting stack
// has no room left), checks whether the fault address lies in the guard of the
// context running on this thread, and if so prints which goroutine overflowed
// and by how much stack it had, then lets the signal kill the process (keeping
// a core dump possible). Any other SIGSEGV goes to the handler that was
// installed before ours, or to the default action.
//
// Disabled under AddressSanitizer, which installs its own SIGSEGV reporting,
// and with -DGORO_NO_OVERFLOW_HANDLER.
#ifndef GORO_DETAIL_OVERFLOW_HANDLER_HPP
#define GORO_DETAIL_OVERFLOW_HANDLER_HPP

#include "../config.hpp"
#include "stack.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>

#if !defined(GORO_NO_OVERFLOW_HANDLER) && !defined(GORO_ASAN)
#define GORO_OVERFLOW_HANDLER 1
#endif

namespace goro::detail {

/// What the handler needs to know about the context running on a thread.
struct running_stack {
  const void* bottom = nullptr;  ///< lowest usable address; the guard lies below
  std::uint64_t id = 0;          ///< goroutine id, 0 for a plain context
  std::size_t size = 0;          ///< usable bytes
};

/// The calling thread's slot naming the stack it runs on (nullptr: the
/// thread's own stack). Reached through a noinline function so that code that
/// migrated between threads across a switch never uses another thread's slot.
GORO_TLS_ACCESSOR inline const running_stack*& running_stack_slot() noexcept {
  GORO_TLS_BARRIER();
  static thread_local const running_stack* slot = nullptr;
  return slot;
}

namespace overflow {

inline struct sigaction& previous_action() noexcept {
  static struct sigaction action;
  return action;
}

// Async-signal-safe output: no stdio, no allocation.
inline void write_str(const char* s) noexcept {
  ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}
inline void write_num(std::uint64_t v) noexcept {
  char buf[24];
  int i = 23;
  buf[i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  write_str(buf + i);
}

inline void handle_segv(int sig, siginfo_t* info, void* uctx) noexcept {
  // si_code > 0: a fault the kernel raised, whose si_addr is meaningful.
  // Otherwise someone sent the signal (kill, raise) and si_addr is not an
  // address; returning from a sent signal does not bring it back.
  const bool fault = info->si_code > 0;
  const running_stack* rs = running_stack_slot();
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  if (fault && rs != nullptr) {
    const auto lo = reinterpret_cast<std::uintptr_t>(rs->bottom);
    // A fault within the widest guard any stack has, below the running
    // stack, is taken for an overflow: below a narrower guard of its own
    // lies the stack under it, mapped, so what faults there is that stack's
    // guard or no mapping at all, reached by running on past this one's.
    if (addr < lo && addr >= lo - widest_guard().load(std::memory_order_relaxed)) {
      write_str("goro: fatal error: stack overflow in ");
      if (rs->id != 0) {
        write_str("goroutine ");
        write_num(rs->id);
      } else {
        write_str("a goro context");
      }
      write_str(" (stack of ");
      write_num(rs->size);
      write_str(" bytes; give goroutines more with goro::runtime_options::stack_size)\n");
      signal(SIGSEGV, SIG_DFL);  // returning re-faults and the default action ends us
      return;
    }
  }
  const struct sigaction& prev = previous_action();
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, uctx);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
  } else if (prev.sa_handler == SIG_IGN && !fault) {
    // Ignored before goro came: a sent SIGSEGV stays ignored.
  } else {
    signal(SIGSEGV, SIG_DFL);  // a fault re-faults on return and dies of it
    if (!fault) ::raise(sig);  // pending until we return, then the default action
  }
}

/// Bytes of each thread's alternate signal stack.
inline constexpr std::size_t alt_stack_bytes = 64 * 1024;

/// Owns the calling thread's alternate signal stack, if goro installed it.
struct alt_stack_owner {
  void* mem = nullptr;
  ~alt_stack_owner() {
    if (mem == nullptr) return;
    stack_t none{};
    none.ss_flags = SS_DISABLE;
    ::sigaltstack(&none, nullptr);
    ::munmap(mem, alt_stack_bytes);
  }
};

}  // namespace overflow

/// Makes sure the SIGSEGV handler is installed (once per process) and the
/// calling thread has an alternate signal stack (once per thread, unless it
/// already had one). Cheap after the first call on a thread.
// Noinline: cold (it does real work once per thread), kept out of callers.
__attribute__((noinline)) inline void ensure_overflow_handler() noexcept {
#if defined(GORO_OVERFLOW_HANDLER)
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = &overflow::handle_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &overflow::previous_action());
  });
  static thread_local overflow::alt_stack_owner owner;
  static thread_local bool checked = false;
  if (checked) return;
  checked = true;
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) != 0) {
    void* mem = ::mmap(nullptr, overflow::alt_stack_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;  // no report on overflow, but nothing breaks
    stack_t alt{};
    alt.ss_sp = mem;
    alt.ss_size = overflow::alt_stack_bytes;
    if (::sigaltstack(&alt, nullptr) == 0) {
      owner.mem = mem;
    } else {
      ::munmap(mem, overflow::alt_stack_bytes);
    }
  }
#endif
}

}  // namespace goro::detail

#endif
