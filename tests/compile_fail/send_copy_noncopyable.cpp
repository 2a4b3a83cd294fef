// must fail: send(const T&) copies, and std::unique_ptr cannot be copied (std::move it instead).
// expect-error: deleted
#include <goro/goro.hpp>

#include <memory>

int main() {
  auto c = goro::make_chan<std::unique_ptr<int>>(1);
  auto p = std::make_unique<int>(1);
  c.send(p);
}
