// `go` when no stack can be had: it must throw, start nothing, and leave the
// runtime working.
//
// Usage: go_exhaustion [workers]  (default 2)
//
// Limits the address space (RLIMIT_AS) to what the process uses plus 48 MiB
// (room for one batch of 32 stacks), then starts goroutines with 1 MiB
// stacks that all wait on one wait_group until `go` throws. Then lets them go, checks every one of
// them finishes, and that a new goroutine runs (on a recycled stack). Prints "ok ..." and exits 0
// on success; exits 77 if the limit has no effect; 1 on failure.
//
// With one worker every finished goroutine's stack lands in that worker's
// own pool (fewer than it keeps before passing a batch on), which go() from
// main cannot reach: the recovery works only because the last goroutine's
// worker hands its stacks over before wait() returns.
#include <goro/goro.hpp>

#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <system_error>

namespace {

std::size_t address_space_in_use() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  return pages * goro::detail::page_size();
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 1);  // worker threads would each reserve a 64 MiB malloc arena
#endif
  goro::runtime_options options;
  options.workers = argc > 1 ? static_cast<std::size_t>(std::atoi(argv[1])) : 2;
  options.stack_size = 1024 * 1024;
  goro::runtime rt(options);
  goro::wait_group gate, started;
  gate.add(1);
  std::atomic<long> finished{0};
  std::printf("starting\n");
  std::fflush(stdout);

  rlimit limit{};
  limit.rlim_cur = address_space_in_use() + 48 * 1024 * 1024;
  limit.rlim_max = RLIM_INFINITY;
  if (::setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit");
    return 1;
  }
  long spawned = 0;
  const char* failure = nullptr;
  for (; spawned < 100000; ++spawned) {
    try {
      started.add(1);
      rt.go([&] {
        started.done();
        gate.wait();
        finished.fetch_add(1);
      });
    } catch (const std::bad_alloc&) {
      failure = "std::bad_alloc";
    } catch (const std::system_error&) {
      failure = "std::system_error";
    }
    if (failure != nullptr) {
      started.done();  // the one that did not start
      break;
    }
  }
  if (failure == nullptr) {
    std::printf("the address-space limit had no effect (%ld goroutines started)\n", spawned);
    gate.done();
    return 77;
  }
  started.wait();  // every goroutine that did start is waiting
  const std::size_t alive = rt.num_goroutines();
  gate.done();
  rt.wait();
  if (alive != static_cast<std::size_t>(spawned) || finished.load() != spawned) {
    std::printf("started %ld, alive %zu, finished %ld\n", spawned, alive, finished.load());
    return 1;
  }
  // The runtime still works: a new goroutine runs on a recycled stack.
  std::atomic<bool> ran{false};
  try {
    rt.go([&] { ran = true; });
  } catch (const std::exception& e) {
    std::printf("go failed after recovery: %s\n", e.what());
    return 1;
  }
  rt.wait();
  if (!ran) {
    std::printf("the goroutine started after recovery did not run\n");
    return 1;
  }
  std::printf("ok: go threw %s after %ld goroutines; all finished; a new one ran\n", failure,
              spawned);
  return 0;
}
