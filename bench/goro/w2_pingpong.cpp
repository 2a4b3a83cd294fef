// W2 for goro: 1,000,000 round trips between the main goroutine and one
// other over two unbuffered channels. argv[1]: workers.
#include "goro_bench.hpp"

int main(int argc, char** argv) {
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    auto ping = goro::make_chan<long>();
    auto pong = goro::make_chan<long>();
    const long round_trips = bench::scaled(bench::w2_round_trips);
    std::int64_t start = bench::now_ns();
    goro::go([ping, pong] {
      for (long v : ping) pong.send(v);
    });
    std::int64_t sum = 0;
    for (long i = 0; i < round_trips; ++i) {
      ping.send(i);
      sum += *pong.recv();
    }
    ping.close();
    std::int64_t elapsed = bench::now_ns() - start;
    if (sum != bench::sum_below(round_trips)) bench::fail("W2", "wrong sum");
    bench::print_result("W2", peer, elapsed);
  });
}
