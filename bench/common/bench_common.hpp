// bench_common.hpp: what every C++ benchmark program shares.
//
// Each benchmark program measures one workload (DESIGN.md, "Measured against")
// for one peer and prints exactly one line on stdout:
//
//   RESULT <workload> <peer> <nanoseconds-total> <extra-metric-or-0>
//
// tools/bench runs the programs, parses that line and writes docs/benchmarks.md.
// The time is taken inside the program, around the workload only: starting a
// runtime or a thread pool is not part of it (nor is it for Go, whose runtime
// is up before main runs).
#ifndef GORO_BENCH_COMMON_HPP
#define GORO_BENCH_COMMON_HPP

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace bench {

/// Monotonic time in nanoseconds.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Prints the one RESULT line and flushes it (some programs end with _Exit).
inline void print_result(const char* workload, const std::string& peer, std::int64_t ns,
                         double extra = 0) {
  std::printf("RESULT %s %s %lld %.6g\n", workload, peer.c_str(), static_cast<long long>(ns),
              extra);
  std::fflush(stdout);
}

/// Prints a message naming the workload and ends the program with a failure.
[[noreturn]] inline void fail(const char* workload, const char* what) {
  std::fprintf(stderr, "%s: check failed: %s\n", workload, what);
  std::fflush(stderr);
  std::_Exit(1);
}

/// The resident set of this process in bytes (second field of /proc/self/statm).
inline std::int64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long long size = 0, resident = 0;
  int got = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (got != 2) return -1;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

/// The number of workers (or threads) asked for: argv[1] if given, else the
/// environment variable `env` if set, else `fallback`.
inline unsigned workers_arg(int argc, char** argv, const char* env, unsigned fallback) {
  const char* text = argc > 1 ? argv[1] : std::getenv(env);
  if (text == nullptr || *text == '\0') return fallback;
  long n = std::strtol(text, nullptr, 10);
  if (n < 1 || n > 1024) {
    std::fprintf(stderr, "bad worker count '%s'\n", text);
    std::exit(2);
  }
  return static_cast<unsigned>(n);
}

/// One hardware thread per worker, as Go's default GOMAXPROCS.
inline unsigned hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

/// The fraction of its full size a run does: the environment variable
/// BENCH_SCALE (0 < scale <= 1), else 1. tools/bench counts instructions
/// under callgrind, some 50 times slower than a plain run, at two small
/// scales and takes the difference, so that start-up and exit cancel out.
inline double scale() {
  static const double value = [] {
    const char* text = std::getenv("BENCH_SCALE");
    if (text == nullptr || *text == '\0') return 1.0;
    double s = std::strtod(text, nullptr);
    if (!(s > 0 && s <= 1)) {
      std::fprintf(stderr, "bad BENCH_SCALE '%s' (want 0 < scale <= 1)\n", text);
      std::exit(2);
    }
    return s;
  }();
  return value;
}

/// n scaled by scale(), at least 1. tools/bench rounds the same way to count
/// the operations of a scaled run.
inline long scaled(long n) {
  long s = std::lround(static_cast<double>(n) * scale());
  return s < 1 ? 1 : s;
}

/// The n-th prime (n >= 1), by a sieve of Eratosthenes: what a scaled W5
/// must end with.
inline long nth_prime(long n) {
  for (long limit = 64;; limit *= 2) {
    std::vector<bool> composite(static_cast<std::size_t>(limit), false);
    long found = 0;
    for (long i = 2; i < limit; ++i) {
      if (composite[static_cast<std::size_t>(i)]) continue;
      if (++found == n) return i;
      for (long j = i * i; j < limit; j += i) composite[static_cast<std::size_t>(j)] = true;
    }
  }
}

// The workload sizes of DESIGN.md, the same for every peer (scaled() by
// BENCH_SCALE where the programs say so).
constexpr long w1_goroutines = 1000000;   ///< W1: spawned, each increments a counter
constexpr long w2_round_trips = 1000000;  ///< W2: ping-pong over two unbuffered channels
constexpr long w3_capacity = 1024;        ///< W3: one channel of this capacity
constexpr long w3_producers = 4;          ///< W3: each sends w3_items
constexpr long w3_consumers = 4;          ///< W3: receive until close
constexpr long w3_items = 1000000;        ///< W3: per producer
constexpr long w4_producers = 8;          ///< W4: each on its own channel
constexpr long w4_capacity = 64;          ///< W4: capacity of each producer's channel
constexpr long w4_items = 250000;         ///< W4: per producer
constexpr long w5_primes = 5000;          ///< W5: primes the sieve must produce
constexpr long w5_last_prime = 48611;     ///< W5: the 5,000th prime, to check the result
constexpr long w6_goroutines = 100000;    ///< W6: parked on one channel
constexpr long w6_threads = 10000;        ///< W6 for std::thread (one OS thread each)
constexpr long w8_connections = 1000;     ///< W8: concurrent TCP connections on loopback
constexpr long w8_round_trips = 100;      ///< W8: round trips per connection
constexpr long w8_message = 64;           ///< W8: bytes per message
constexpr long w8_buffer = 4096;          ///< W8: the server's read buffer per connection

/// Sum of 0 + 1 + ... + (n - 1): what a consumer must see from one producer.
constexpr std::int64_t sum_below(std::int64_t n) { return n * (n - 1) / 2; }

}  // namespace bench

#endif  // GORO_BENCH_COMMON_HPP
