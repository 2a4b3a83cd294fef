// shadow_stack.hpp: refusing to run under CET user shadow stacks.
//
// With Intel CET shadow stacks enabled, every `call` also pushes the return
// address on a second, hardware-protected stack and every `ret` checks it.
// goro's x86-64 context switch moves the stack pointer to another goroutine's
// stack and returns there: the shadow stack does not follow, so the first
// switch would fault with a control-protection error. A binary built with
// -fcf-protection (Ubuntu's default) is marked shadow-stack compatible, and
// glibc turns the feature on at startup where the CPU and kernel (6.6+)
// support it. goro cannot give each goroutine a shadow stack of its own yet,
// so the runtime refuses to start there, saying why and what to do, instead
// of crashing at the first switch. The ucontext switch (GORO_USE_UCONTEXT)
// is left to glibc, whose swapcontext handles shadow stacks.
#ifndef GORO_DETAIL_SHADOW_STACK_HPP
#define GORO_DETAIL_SHADOW_STACK_HPP

#include "../config.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#if defined(__linux__) && defined(__x86_64__)
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace goro::detail {

/// Whether /proc/self/status text says user shadow stacks are on: its
/// "x86_Thread_features:" line lists "shstk" (kernel 6.6+). Pure: testable.
inline bool status_says_shadow_stack(const char* text) noexcept {
  const char* key = "x86_Thread_features:";
  for (const char* line = text; line != nullptr && *line != '\0';) {
    const char* end = std::strchr(line, '\n');
    const std::size_t len =
        end != nullptr ? static_cast<std::size_t>(end - line) : std::strlen(line);
    const std::size_t klen = std::strlen(key);
    if (len >= klen && std::strncmp(line, key, klen) == 0) {
      // Words after the key, separated by blanks.
      for (std::size_t i = klen; i < len;) {
        while (i < len && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < len && line[j] != ' ' && line[j] != '\t') ++j;
        if (j - i == 5 && std::strncmp(line + i, "shstk", 5) == 0) return true;
        i = j;
      }
    }
    line = end != nullptr ? end + 1 : nullptr;
  }
  return false;
}

/// Whether the calling thread runs with user shadow stacks on.
inline bool shadow_stack_enabled() noexcept {
#if defined(__linux__) && defined(__x86_64__)
  // ARCH_SHSTK_STATUS (0x5005) writes the enabled features; bit 0 is the
  // shadow stack. Kernels without CET support reject the request, and then
  // no shadow stack can be on; /proc is read only when the call is refused
  // in some other way (a seccomp filter, say).
  unsigned long features = 0;
  if (::syscall(SYS_arch_prctl, 0x5005, &features) == 0) return (features & 1UL) != 0;
  if (errno == EINVAL) return false;
  char buf[4096];
  const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t n = 0;
  for (ssize_t r; n + 1 < sizeof buf && (r = ::read(fd, buf + n, sizeof buf - 1 - n)) > 0;)
    n += static_cast<std::size_t>(r);
  ::close(fd);
  buf[n] = '\0';
  return status_says_shadow_stack(buf);
#else
  return false;
#endif
}

/// What the runtime says when it refuses to start under shadow stacks.
inline const char* shadow_stack_message() noexcept {
  return "goro: this process runs with CET shadow stacks enabled, which goro's x86-64 context "
         "switch does not support (the first goroutine switch would crash). Build with "
         "-fcf-protection=none or -fcf-protection=branch, or define GORO_USE_UCONTEXT, or turn "
         "them "
         "off for the process with GLIBC_TUNABLES=glibc.cpu.x86_shstk=off";
}

/// Throws std::runtime_error (shadow_stack_message) if goroutines could not
/// switch in this process. Called when a runtime starts.
inline void check_shadow_stack() {
#if defined(GORO_CONTEXT_X86_64) && !defined(GORO_USE_UCONTEXT)
  if (GORO_FAULT(shadow_stack) || shadow_stack_enabled())
    throw_error(std::runtime_error(shadow_stack_message()));
#endif
}

}  // namespace goro::detail

#endif
