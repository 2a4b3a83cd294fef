// must fail: range-for over a send-only view, with an error that names the misuse
// (a deleted begin() whose return type says it).
// expect-error: send_chan_is_send_only_range_over_a_chan_or_recv_chan
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::send_chan<int> out = c;
  int sum = 0;
  for (int v : out) sum += v;
  return sum;
}
