// must fail: receive from a send-only view (send_chan<int>::recv), like Go's `chan<- int`.
// expect-error: protected|inaccessible
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::send_chan<int> out = c;
  return out.recv().value_or(0);
}
