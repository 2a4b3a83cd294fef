// A second translation unit of the executable.
#include "shared.hpp"

#include <optional>

void tu_produce(goro::chan<int> out, int n, int value) {
  for (int i = 0; i < n; ++i) out.send(value);
  out.close();
}

long tu_drain(goro::chan<int> in) {
  long sum = 0;
  while (std::optional<int> v = in.recv()) sum += *v;
  return sum;
}
