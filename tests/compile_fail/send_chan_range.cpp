// must fail: range-for over a send-only view, with a message that says so.
// expect-error: send_chan is send-only
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::send_chan<int> out = c;
  int sum = 0;
  for (int v : out) sum += v;
  return sum;
}
