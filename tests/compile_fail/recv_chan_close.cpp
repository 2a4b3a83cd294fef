// must fail: close of a receive-only view (recv_chan<int>::close); only senders close.
// expect-error: protected|inaccessible
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::recv_chan<int> in = c;
  in.close();
}
