// What entering the kernel costs on this machine, for tools/bench: the time
// of a system call that does nothing (getppid) and of a page fault on fresh
// anonymous memory (the kernel finds, zeroes and maps a page of the
// system's size, 4 KiB on x86-64). It prints
//
//   PROBE syscall <nanoseconds per call>
//   PROBE page_fault <nanoseconds per page>
//
// Why it exists: every runtime here enters the kernel to park an idle
// thread (futex), to sleep, and to get memory for stacks, and a virtual
// machine can make that entry many times dearer without any other process
// running, which tools/bench's "others' CPU" and steal figures do not show.
// On the 2-vCPU machine of docs/benchmarks.md one day a system call took
// about 1 us and a page fault about 14 us, and W1 and W5 took two to seven
// times as long as in the report before, for goro and Go alike, while the
// load figures showed a quiet machine (bench/README.md has the figures, and
// why the kernel is only part of that change).
//
// argv[1]: system calls per batch (default 20,000); argv[2]: pages per batch
// (default 2,048: 8 MiB of 4 KiB pages). Each figure is the median of five
// batches timed after one of warm-up.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

long count_arg(int argc, char** argv, int i, long fallback) {
  if (argc <= i) return fallback;
  char* end = nullptr;
  const long n = std::strtol(argv[i], &end, 10);
  if (*end != '\0' || n < 1) {
    std::fprintf(stderr, "usage: kernel_entry [system calls per batch >= 1 [pages >= 1]]\n");
    std::exit(2);
  }
  return n;
}

// The median over batches 1..5 of batch(n) / n, in ns; batch 0 warms up.
template <class Batch>
double median_ns_per(long n, Batch batch) {
  std::vector<double> ns;
  for (int b = 0; b < 6; ++b) {
    const auto start = std::chrono::steady_clock::now();
    batch(n);
    const auto took = std::chrono::steady_clock::now() - start;
    if (b > 0) ns.push_back(std::chrono::duration<double, std::nano>(took).count() / n);
  }
  std::sort(ns.begin(), ns.end());
  return ns[ns.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = count_arg(argc, argv, 1, 20000);
  const long pages = count_arg(argc, argv, 2, 2048);
  const double call_ns = median_ns_per(calls, [](long n) {
    // syscall() rather than getppid(): no libc may answer it from a cache.
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
  });
  const long page = sysconf(_SC_PAGESIZE);
  bool failed = false;
  const double fault_ns = median_ns_per(pages, [&](long n) {
    const std::size_t bytes = static_cast<std::size_t>(n) * page;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      failed = true;
      return;
    }
    // One fault per page, as a fresh goroutine stack takes them: a huge
    // page would fault 512 pages in at once.
    madvise(p, bytes, MADV_NOHUGEPAGE);
    volatile char* bytes_at = static_cast<char*>(p);
    for (long i = 0; i < n; ++i) bytes_at[i * page] = 1;
    munmap(p, bytes);
  });
  if (failed) {
    std::perror("kernel_entry: mmap");
    return 1;
  }
  std::printf("PROBE syscall %.1f\nPROBE page_fault %.1f\n", call_ns, fault_ns);
  return 0;
}
