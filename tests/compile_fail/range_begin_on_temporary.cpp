// must fail: an iterator taken from a temporary channel handle would refer
// to a channel that is gone once the statement ends (range-for over a
// temporary is fine: it names its range).
// expect-error: delete
#include <goro/goro.hpp>

#include <chrono>

int main() {
  auto it = goro::after(std::chrono::milliseconds(1)).begin();
  return *it == goro::clock::time_point{} ? 1 : 0;
}
