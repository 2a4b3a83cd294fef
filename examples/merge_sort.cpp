// merge_sort: parallel merge sort, a goroutine for every split.
//
// The Go program it mirrors:
//
//   func mergeSort(s, tmp []int) {
//       if len(s) <= cutoff { sort.Ints(s); return }
//       mid := len(s) / 2
//       done := make(chan struct{})
//       go func() { mergeSort(s[:mid], tmp[:mid]); close(done) }()
//       mergeSort(s[mid:], tmp[mid:])      // the other half right here
//       <-done                             // join
//       merge(s, mid, tmp)
//   }
//
// Each split hands one half to a new goroutine and keeps the other, so the
// recursion makes about 2n/cutoff goroutines, which the scheduler spreads over
// its workers (one per hardware thread; GORO_WORKERS=1 makes it sequential).
// Below the cutoff a goroutine would cost more than it saves.
//
// The input is 1,000,000 pseudo-random ints from a fixed seed, so the
// checksum of the sorted result is the same on every machine.
//
// Usage: merge_sort [count]   (default 1000000)
#include "goro.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr std::size_t cutoff = 1 << 14;

// A tiny 64-bit LCG (Knuth's MMIX constants): unlike std::uniform_int_distribution,
// its output is the same with every standard library.
struct lcg {
  std::uint64_t state;
  int next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>(state >> 33);  // the high 31 bits: 0 .. 2^31-1
  }
};

// Sorts a[0, n), using tmp[0, n) as scratch. The two halves use disjoint
// parts of both arrays, so the goroutines never touch the same element;
// the join (done) orders their writes before the merge reads them.
void merge_sort(int* a, int* tmp, std::size_t n) {
  if (n <= cutoff) {
    std::sort(a, a + n);  // a goroutine may run long C++ code: it holds its worker meanwhile
    return;
  }
  const std::size_t mid = n / 2;
  auto done = goro::make_chan<bool>();  // done := make(chan struct{})
  goro::go([a, tmp, mid, done] {        // go func() { ...; close(done) }()
    merge_sort(a, tmp, mid);
    done.close();
  });
  merge_sort(a + mid, tmp + mid, n - mid);
  done.recv();  // <-done: parks this goroutine until the other half is sorted
  std::merge(a, a + mid, a + mid, a + n, tmp);
  std::copy(tmp, tmp + n, a);
}

}  // namespace

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::atol(argv[1]) : 1000000;
  if (count <= 0) {
    std::fprintf(stderr, "usage: %s [count > 0]\n", argv[0]);
    return 2;
  }
  const auto n = static_cast<std::size_t>(count);

  std::vector<int> data(n), scratch(n);
  lcg rng{42};
  std::uint64_t sum_before = 0;
  for (int& v : data) {
    v = rng.next();
    sum_before += static_cast<std::uint64_t>(v);
  }

  const auto start = std::chrono::steady_clock::now();
  // The top call runs as a goroutine too, so all the sorting happens on
  // goro's workers; main (a plain thread) just waits, like a Go main would.
  auto sorted = goro::make_chan<bool>();
  goro::go([&data, &scratch, n, sorted] {
    merge_sort(data.data(), scratch.data(), n);
    sorted.close();
  });
  sorted.recv();
  const auto elapsed = std::chrono::steady_clock::now() - start;

  // Verify: in order, and the same values (same sum) as before.
  std::uint64_t sum_after = 0, checksum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum_after += static_cast<std::uint64_t>(data[i]);
    checksum = checksum * 31 + static_cast<std::uint64_t>(data[i]);  // order-sensitive
  }
  const bool ok = std::is_sorted(data.begin(), data.end()) && sum_after == sum_before;

  std::printf("sorted %zu ints in %lld ms: %s\n", n,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()),
              ok ? "ok" : "NOT SORTED");
  std::printf("min %d, max %d, checksum %016llx\n", data.front(), data.back(),
              static_cast<unsigned long long>(checksum));
  return ok ? 0 : 1;
}
