// must fail: send on a receive-only view (recv_chan<int>::send), like Go's `<-chan int`.
// expect-error: protected|inaccessible
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::recv_chan<int> in = c;
  in.send(1);
}
