// Runs out of address space for stacks, then recovers.
//
// Limits the process's address space (RLIMIT_AS) to what it uses now plus
// 256 MiB, maps 1 MiB stacks until goro::detail::stack throws, frees ten, and
// checks that five new ones can be mapped and run a context. Prints "ok ..."
// and exits 0 on success; exits 77 if the limit has no effect (emulators
// ignore it) and 1 on failure.
#include <goro/goro.hpp>

#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <new>
#include <system_error>
#include <vector>

namespace {

constexpr std::size_t stack_bytes = 1024 * 1024;
constexpr std::size_t headroom = 256 * 1024 * 1024;

std::size_t address_space_in_use() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  return pages * goro::detail::page_size();
}

struct runner {
  goro::detail::context* home;
  goro::detail::context* self;
  std::uint64_t sum = 0;
  static void entry(void* p) {
    auto& r = *static_cast<runner*>(p);
    volatile char touch[64 * 1024];  // use some of the stack
    for (std::size_t i = 0; i < sizeof touch; i += 4096) touch[i] = 1;
    for (std::size_t i = 0; i < sizeof touch; i += 4096)
      r.sum += static_cast<unsigned char>(touch[i]);
    r.self->exit_to(*r.home);
  }
};

}  // namespace

int main() {
  std::vector<goro::detail::stack> stacks;
  stacks.reserve(100000);                     // no allocation in the loop below but the stacks'
  { goro::detail::stack warm(stack_bytes); }  // settle the guard method first
  std::printf("starting\n");
  std::fflush(stdout);

  rlimit limit{};
  limit.rlim_cur = address_space_in_use() + headroom;
  limit.rlim_max = RLIM_INFINITY;
  if (::setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit");
    return 1;
  }
  const char* failure = nullptr;
  while (stacks.size() < stacks.capacity()) {
    try {
      stacks.emplace_back(stack_bytes);
    } catch (const std::bad_alloc&) {
      failure = "std::bad_alloc";
      break;
    } catch (const std::system_error& e) {
      failure = "std::system_error";
      break;
    }
  }
  const std::size_t mapped = stacks.size();
  if (failure == nullptr || mapped > 2 * headroom / stack_bytes) {
    std::printf("the address-space limit had no effect (%zu stacks mapped)\n", mapped);
    return 77;
  }
  // Free ten; five new stacks must map and run.
  for (int i = 0; i < 10; ++i) stacks.pop_back();
  std::uint64_t sums = 0;
  for (int i = 0; i < 5; ++i) {
    try {
      stacks.emplace_back(stack_bytes);
    } catch (const std::exception& e) {
      std::printf("mapping a stack after freeing some failed: %s\n", e.what());
      return 1;
    }
    goro::detail::context home;
    runner r{&home, nullptr};
    goro::detail::context ctx(stacks.back(), &runner::entry, &r);
    r.self = &ctx;
    home.switch_to(ctx);
    sums += r.sum;
  }
  if (sums == 0) {
    std::printf("the contexts did not run\n");
    return 1;
  }
  std::printf("ok: %zu stacks mapped before %s; after freeing 10, 5 more mapped and ran\n", mapped,
              failure);
  return 0;
}
