// must fail: a select case sending on a receive-only view (case_send on recv_chan<int>).
// expect-error: no matching|no viable|deleted|static assert|static_assert|protected
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::recv_chan<int> in = c;
  return static_cast<int>(goro::select(goro::case_send(in, 1), goro::case_default()));
}
