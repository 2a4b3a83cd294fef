// must fail: the channel of a temporary ticker; the ticker stops at the end of
// the statement and the channel would never receive (keep the ticker, or use goro::tick).
// expect-error: delete
#include <goro/goro.hpp>

#include <chrono>

int main() {
  auto ticks = goro::ticker(std::chrono::milliseconds(10)).chan();
  ticks.recv();
}
