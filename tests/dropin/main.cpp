// Drop-in test: one file, compiled with nothing but
//   c++ -std=c++17 -O2 -pthread -I <dir holding goro.hpp> main.cpp
// Goroutines, buffered and unbuffered channels, select with the nil-channel
// idiom, and a wait_group. Prints "dropin ok" when every result is right.
#include "goro.hpp"

#include <cstdio>
#include <optional>

namespace {

void count_to(goro::chan<int> out, int n, int value) {
  for (int i = 0; i < n; ++i) out.send(value);
  out.close();
}

bool check(bool ok, const char* what) {
  if (!ok) std::printf("dropin FAILED: %s\n", what);
  return ok;
}

}  // namespace

int main() {
  bool ok = true;

  // A pipeline: numbers -> squares -> main.
  auto numbers = goro::make_chan<int>();
  auto squares = goro::make_chan<int>(8);
  goro::go([numbers]() mutable {
    for (int i = 1; i <= 100; ++i) numbers.send(i);
    numbers.close();
  });
  goro::go([numbers, squares]() mutable {
    while (std::optional<int> v = numbers.recv()) squares.send(*v * *v);
    squares.close();
  });
  long sum = 0;
  while (std::optional<int> v = squares.recv()) sum += *v;
  ok &= check(sum == 338350, "sum of squares 1..100");

  // Fan-in with select; a closed channel's case is switched off by
  // selecting on a nil channel in its place, as in Go.
  auto ones = goro::make_chan<int>();
  auto twos = goro::make_chan<int>(4);
  goro::go(count_to, ones, 50, 1);
  goro::go(count_to, twos, 50, 2);
  goro::chan<int> nil;
  bool ones_open = true, twos_open = true;
  int from_ones = 0, from_twos = 0;
  while (ones_open || twos_open) {
    goro::chan<int>& a = ones_open ? ones : nil;
    goro::chan<int>& b = twos_open ? twos : nil;
    goro::select(goro::case_recv(a,
                                 [&](std::optional<int> v) {
                                   if (v)
                                     from_ones += *v;
                                   else
                                     ones_open = false;
                                 }),
                 goro::case_recv(b, [&](std::optional<int> v) {
                   if (v)
                     from_twos += *v;
                   else
                     twos_open = false;
                 }));
  }
  ok &= check(from_ones == 50 && from_twos == 100, "select fan-in");

  // A wait_group over many goroutines that report on one buffered channel.
  constexpr int kWorkers = 200;
  auto results = goro::make_chan<int>(kWorkers);
  goro::wait_group wg;
  wg.add(kWorkers);
  for (int i = 0; i < kWorkers; ++i) {
    goro::go([&wg, results, i]() mutable {
      results.send(i);
      wg.done();
    });
  }
  wg.wait();
  results.close();
  long total = 0;
  int count = 0;
  for (std::optional<int> v = results.recv(); v; v = results.recv()) {
    total += *v;
    ++count;
  }
  ok &= check(count == kWorkers && total == kWorkers * (kWorkers - 1) / 2, "wait_group");

  if (!ok) return 1;
  std::printf("dropin ok\n");
  return 0;
}
