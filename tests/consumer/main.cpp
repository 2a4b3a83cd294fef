// A consumer of goro: a small pipeline, run from main. Prints the version it was
// built against and "consumer ok" when the result is right.
#if defined(CONSUMER_SINGLE_HEADER)
#include <goro.hpp>
#else
#include <goro/goro.hpp>
#endif

#include <cstdio>
#include <optional>

namespace {

void produce(goro::chan<int> out, int n) {
  for (int i = 1; i <= n; ++i) out.send(i);
  out.close();
}

}  // namespace

int main() {
  auto numbers = goro::make_chan<int>(16);
  auto doubled = goro::make_chan<int>();
  goro::go(produce, numbers, 1000);
  goro::go([numbers, doubled]() mutable {
    while (std::optional<int> v = numbers.recv()) doubled.send(*v * 2);
    doubled.close();
  });

  long sum = 0;
  while (std::optional<int> v = doubled.recv()) sum += *v;

  std::printf("goro %d.%d.%d\n", GORO_VERSION_MAJOR, GORO_VERSION_MINOR, GORO_VERSION_PATCH);
  if (sum != 1000L * 1001L) {
    std::printf("consumer FAILED: sum %ld\n", sum);
    return 1;
  }
  std::printf("consumer ok\n");
  return 0;
}
