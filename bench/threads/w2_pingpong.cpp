// W2 for std::thread: 1,000,000 round trips between two threads over two
// bounded queues of capacity 1 (the stand-in for an unbuffered channel).
#include "bench_common.hpp"
#include "thread_channel.hpp"

int main() {
  bench::bounded_queue<long> ping(1), pong(1);
  std::int64_t start = bench::now_ns();
  std::thread echo([&] {
    while (auto v = ping.pop()) pong.push(*v);
  });
  std::int64_t sum = 0;
  for (long i = 0; i < bench::w2_round_trips; ++i) {
    ping.push(i);
    sum += *pong.pop();
  }
  ping.close();
  echo.join();
  std::int64_t elapsed = bench::now_ns() - start;
  if (sum != bench::sum_below(bench::w2_round_trips)) bench::fail("W2", "wrong sum");
  bench::print_result("W2", "threads", elapsed);
}
