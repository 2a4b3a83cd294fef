// must fail: the channel of a temporary timer; the timer stops at the end of
// the statement and the channel would never receive (use goro::after).
// expect-error: delete
#include <goro/goro.hpp>

#include <chrono>

int main() {
  auto fired = goro::timer(std::chrono::milliseconds(10)).chan();
  fired.recv();
}
