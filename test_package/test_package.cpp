// The Conan test package: a goroutine sends over a channel, main receives.
#include <goro/goro.hpp>

#include <cstdio>
#include <optional>

int main() {
  auto c = goro::make_chan<int>();
  goro::go([c]() mutable {
    for (int i = 1; i <= 10; ++i) c.send(i);
    c.close();
  });
  int sum = 0;
  while (std::optional<int> v = c.recv()) sum += *v;
  std::printf("goro %d.%d.%d: sum %d\n", GORO_VERSION_MAJOR, GORO_VERSION_MINOR, GORO_VERSION_PATCH,
              sum);
  return sum == 55 ? 0 : 1;
}
