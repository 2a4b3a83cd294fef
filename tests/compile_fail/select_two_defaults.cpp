// must fail: a select with two case_default (a select has at most one default case).
// expect-error: at most one default
#include <goro/goro.hpp>

int main() {
  auto c = goro::make_chan<int>(1);
  return static_cast<int>(
      goro::select(goro::case_recv(c), goro::case_default(), goro::case_default()));
}
