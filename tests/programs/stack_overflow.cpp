// Recurses without bound, on a goro context or in a goroutine, so that the
// guard page below the stack stops it. goro's handler should say so on stderr
// ("stack overflow in a goro context" / "stack overflow in goroutine N") and
// the process then dies of SIGSEGV.
//
//   stack_overflow context     on a goro::detail::context of the thread's own
//   stack_overflow goroutine   in a goroutine of a goro::runtime; prints
//                              "goroutine <id>" to stdout first
//   stack_overflow bigframe    as goroutine, but by one frame of 192 KiB on a
//                              64 KiB stack: it overshoots the stack by more
//                              than a few pages and must still land in the
//                              guard (a 16 KiB guard let it write into the
//                              stack below, silently or with a bare SIGSEGV)
//   stack_overflow narrowguard as goroutine, with the narrowest guard
//                              (runtime_options::stack_guard of 16 KiB)
//   stack_overflow wideguard   as bigframe, with a 1 MiB guard and a frame of
//                              640 KiB: it lands deeper than the default guard
//                              reaches and must still be reported
#include <goro/goro.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

volatile std::uint64_t never = ~std::uint64_t{0};  // keeps the recursion "bounded" for the compiler

__attribute__((noinline)) std::uint64_t dive(std::uint64_t n) {
  volatile char frame[256];  // a few hundred bytes per call
  frame[0] = static_cast<char>(n);
  if (n == never) return 0;
  return dive(n + 1) + static_cast<std::uint64_t>(frame[0]);
}

// One frame far larger than what is left of the stack. Its lowest byte is
// written first, as code built without -fstack-clash-protection does.
// The frame's address escapes (the empty asm): otherwise Clang keeps only
// the two bytes used, in an 8-byte frame, and nothing overflows.
template <std::size_t Bytes>
__attribute__((noinline)) int big_frame() {
  char frame[Bytes];
  __asm__ volatile("" : : "r"(frame) : "memory");
  volatile char* p = frame;
  p[0] = 1;
  p[sizeof frame - 1] = 2;
  return p[0] + p[sizeof frame - 1];
}

int on_context() {
  goro::detail::context home;
  goro::detail::stack stk(64 * 1024);
  goro::detail::context ctx(
      stk, [](void*) { std::printf("%llu\n", (unsigned long long)dive(0)); }, nullptr);
  home.switch_to(ctx);
  std::puts("the context came back: no overflow?");
  return 0;
}

// Runs overflow() in a goroutine with a 64 KiB stack above a guard of
// `guard` bytes (by default the runtime's), after printing its id.
int in_goroutine(unsigned long long (*overflow)(),
                 std::size_t guard = goro::runtime_options().stack_guard) {
  goro::runtime_options options;
  options.workers = 1;
  options.stack_size = 64 * 1024;
  options.stack_guard = guard;
  goro::runtime rt(options);
  rt.go([overflow] {
    std::printf("goroutine %llu\n", static_cast<unsigned long long>(goro::goroutine_id()));
    std::fflush(stdout);
    std::printf("%llu\n", overflow());
  });
  rt.wait();
  std::puts("the goroutine finished: no overflow?");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "context") == 0) return on_context();
  if (argc == 2 && std::strcmp(argv[1], "goroutine") == 0)
    return in_goroutine([] { return static_cast<unsigned long long>(dive(0)); });
  if (argc == 2 && std::strcmp(argv[1], "bigframe") == 0)
    return in_goroutine([] { return static_cast<unsigned long long>(big_frame<192 * 1024>()); });
  if (argc == 2 && std::strcmp(argv[1], "narrowguard") == 0)
    return in_goroutine([] { return static_cast<unsigned long long>(dive(0)); }, 16 * 1024);
  if (argc == 2 && std::strcmp(argv[1], "wideguard") == 0) {
    return in_goroutine([] { return static_cast<unsigned long long>(big_frame<640 * 1024>()); },
                        1024 * 1024);
  }
  std::fprintf(stderr, "usage: stack_overflow context|goroutine|bigframe|narrowguard|wideguard\n");
  return 2;
}
