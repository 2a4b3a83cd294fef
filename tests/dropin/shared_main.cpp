// Two translation units and a shared library, all including goro: goroutines
// and channels cross both boundaries. Prints "dropin-shared ok" when right.
#include "shared.hpp"

#include <cstdio>
#include <optional>

int main() {
  bool ok = true;

  // Goroutines started inside the library.
  long squares = lib_sum_of_squares(100);
  if (squares != 338350) {
    std::printf("dropin-shared FAILED: lib_sum_of_squares(100) = %ld\n", squares);
    ok = false;
  }

  // A channel made and fed by the library, drained by a goroutine of the other TU.
  auto sums = goro::make_chan<long>(1);
  goro::chan<int> countdown = lib_countdown(100);
  goro::go([countdown, sums]() mutable { sums.send(tu_drain(countdown)); });
  std::optional<long> drained = sums.recv();
  if (!drained || *drained != 5050) {
    std::printf("dropin-shared FAILED: draining lib_countdown(100)\n");
    ok = false;
  }

  // select in this TU over channels fed from the other TU and from the library.
  auto threes = goro::make_chan<int>();
  goro::go(tu_produce, threes, 30, 3);
  goro::chan<int> down = lib_countdown(10);
  goro::chan<int> nil;
  bool threes_open = true, down_open = true;
  long total = 0;
  while (threes_open || down_open) {
    goro::chan<int>& a = threes_open ? threes : nil;
    goro::chan<int>& b = down_open ? down : nil;
    goro::select(goro::case_recv(a,
                                 [&](std::optional<int> v) {
                                   if (v)
                                     total += *v;
                                   else
                                     threes_open = false;
                                 }),
                 goro::case_recv(b, [&](std::optional<int> v) {
                   if (v)
                     total += *v;
                   else
                     down_open = false;
                 }));
  }
  if (total != 90 + 55) {
    std::printf("dropin-shared FAILED: select total %ld\n", total);
    ok = false;
  }

  if (!ok) return 1;
  std::printf("dropin-shared ok\n");
  return 0;
}
