// must fail: a select case receiving from a send-only view (case_recv on send_chan<int>).
// expect-error: no matching|no viable|deleted|static assert|static_assert|protected
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::send_chan<int> out = c;
  return static_cast<int>(goro::select(goro::case_recv(out), goro::case_default()));
}
