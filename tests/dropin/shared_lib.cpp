// Part of a shared library that includes goro on its own.
#include "shared.hpp"

#include <optional>

long lib_sum_of_squares(int n) {
  auto numbers = goro::make_chan<int>();
  auto squares = goro::make_chan<long>(4);
  goro::go([numbers, n]() mutable {
    for (int i = 1; i <= n; ++i) numbers.send(i);
    numbers.close();
  });
  goro::go([numbers, squares]() mutable {
    while (std::optional<int> v = numbers.recv()) squares.send(long{*v} * *v);
    squares.close();
  });
  long sum = 0;
  while (std::optional<long> v = squares.recv()) sum += *v;
  return sum;
}

goro::chan<int> lib_countdown(int n) {
  auto out = goro::make_chan<int>();
  goro::go([out, n]() mutable {
    for (int i = n; i > 0; --i) out.send(i);
    out.close();
  });
  return out;
}
