// The machine's core-to-core latency, for tools/bench: two threads, pinned
// to the first two CPUs this process may use, hand one cache line back and
// forth, and the program prints the median time of a round trip (the line
// going to the other core and coming back):
//
//   PROBE core_to_core <nanoseconds per round trip>
//
// Why it exists: on a virtual machine the host decides where our two vCPUs
// sit. Measured on the 2-vCPU machine of docs/benchmarks.md, a round trip
// took 80-110 ns for a while and 360-410 ns at other times, and every
// benchmark with two workers (goro's and Go's alike) moved with it (W1 with
// two workers 80 against 200 ms). tools/bench runs this before every
// benchmark run so that the report says which of the two a run saw.
//
// argv[1]: round trips per batch (default 20,000); five batches are timed
// after one of warm-up. With fewer than two CPUs there is nothing to
// measure: it prints "PROBE core_to_core none" and exits 0.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

// The line that travels, alone on its own pair of lines (the adjacent-line
// prefetcher fetches 128 bytes).
struct alignas(128) shared_line {
  std::atomic<long> turn{0};
};
shared_line line;

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Waits until `turn` holds `want`. On a busy machine the partner may not be
// running: after a while yield the CPU to it instead of spinning out the
// time slice (a quiet round trip is far below the threshold).
void await(long want) {
  for (int spins = 0; line.turn.load(std::memory_order_acquire) != want;) {
    if (++spins > 100000) {
      sched_yield();
      spins = 0;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long per_batch = 20000;
  if (argc > 1) {
    char* end = nullptr;
    per_batch = std::strtol(argv[1], &end, 10);
    if (*end != '\0' || per_batch < 1) {
      std::fprintf(stderr, "usage: core_to_core [round trips per batch >= 1]\n");
      return 2;
    }
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    std::perror("core_to_core: sched_getaffinity");
    return 1;
  }
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  if (cpus.size() < 2) {
    std::printf("PROBE core_to_core none\n");
    return 0;
  }
  constexpr int batches = 6;  // the first is warm-up
  const long total = per_batch * batches;
  // The partner answers each odd value with the next even one.
  std::thread partner([&] {
    if (!pin(cpus[1])) std::fprintf(stderr, "core_to_core: could not pin to CPU %d\n", cpus[1]);
    for (long i = 0; i < total; ++i) {
      await(2 * i + 1);
      line.turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  if (!pin(cpus[0])) std::fprintf(stderr, "core_to_core: could not pin to CPU %d\n", cpus[0]);
  std::vector<double> ns;
  for (int b = 0; b < batches; ++b) {
    const auto start = std::chrono::steady_clock::now();
    for (long k = 0; k < per_batch; ++k) {
      const long i = b * per_batch + k;
      line.turn.store(2 * i + 1, std::memory_order_release);
      await(2 * i + 2);
    }
    const auto took = std::chrono::steady_clock::now() - start;
    if (b > 0) ns.push_back(std::chrono::duration<double, std::nano>(took).count() / per_batch);
  }
  partner.join();
  std::sort(ns.begin(), ns.end());
  std::printf("PROBE core_to_core %.1f\n", ns[ns.size() / 2]);
  return 0;
}
