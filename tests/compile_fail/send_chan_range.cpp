// must fail: range-for over a send-only view (send_chan has no begin/end).
// expect-error: begin[^ ]* was not declared|no viable 'begin' function
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::send_chan<int> out = c;
  int sum = 0;
  for (int v : out) sum += v;
  return sum;
}
