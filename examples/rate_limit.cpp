// rate_limit: Go's rate-limiting pattern with a ticker, and a bursty variant.
//
// The Go program it mirrors ("Go by Example: Rate Limiting"):
//
//   limiter := time.Tick(period)
//   for req := range requests { <-limiter; handle(req) }      // one per tick
//
//   bursty := make(chan time.Time, 3)
//   for i := 0; i < 3; i++ { bursty <- time.Now() }           // 3 tokens up front
//   go func() { for t := range time.Tick(period) { bursty <- t } }()
//   for req := range burstyRequests { <-bursty; handle(req) }  // bursts of 3, then one per tick
//
// What a ticker guarantees is the rate, not the gap between two requests:
// a tick that fires a little late is followed by one on time, so two
// requests can be slightly closer than one period. What always holds is that
// the k-th request waits for the k-th tick, which is due k periods after the
// ticker started. The program checks exactly that and prints "limit held".
//
// Usage: rate_limit [period in ms]   (default 50)
#include "goro.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace std::chrono_literals;

namespace {

using ms = std::chrono::milliseconds;

long long rounded_ms(goro::clock::duration d) {
  return std::chrono::duration_cast<ms>(d + 500us).count();
}

// A queue of n requests, closed: like Go's buffered channel filled and closed.
goro::chan<int> make_requests(int n) {
  auto requests = goro::make_chan<int>(static_cast<std::size_t>(n));
  for (int i = 1; i <= n; ++i) requests.send(i);
  requests.close();
  return requests;
}

// Request k (0-based) of those after the first `free` must not have been
// handled before (k + 1 - free) periods from `start`.
bool limit_held(const std::vector<goro::clock::time_point>& handled, goro::clock::time_point start,
                goro::clock::duration period, std::size_t free) {
  for (std::size_t k = free; k < handled.size(); ++k) {
    if (handled[k] - start < static_cast<long>(k + 1 - free) * period) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const long period_ms = argc > 1 ? std::atol(argv[1]) : 50;
  if (period_ms <= 0 || period_ms > 300) {
    std::fprintf(stderr, "usage: %s [period in ms, 1..300]\n", argv[0]);
    return 2;
  }
  const goro::clock::duration period = ms(period_ms);
  bool ok = true;

  // --- One request per tick.
  {
    const auto start = goro::clock::now();
    goro::ticker limiter(period);  // time.Tick(period); stops when it goes out of scope
    std::vector<goro::clock::time_point> handled;
    for (int req : make_requests(5)) {
      limiter.chan().recv();  // <-limiter: main is a plain thread, so it just blocks
      handled.push_back(goro::clock::now());
      std::printf("request %d at %lld ms\n", req, rounded_ms(handled.back() - start));
    }
    auto min_gap = handled[1] - handled[0];
    for (std::size_t k = 2; k < handled.size(); ++k) {
      if (handled[k] - handled[k - 1] < min_gap) min_gap = handled[k] - handled[k - 1];
    }
    const bool held = limit_held(handled, start, period, 0);
    ok = ok && held;
    std::printf("steady: %zu requests, smallest gap %lld ms, limit held: %s\n", handled.size(),
                rounded_ms(min_gap), held ? "yes" : "NO");
  }

  // --- Bursts of up to 3, then one per tick: a token bucket of size 3.
  {
    auto tokens = goro::make_chan<goro::clock::time_point>(3);    // make(chan time.Time, 3)
    for (int i = 0; i < 3; ++i) tokens.send(goro::clock::now());  // the bucket starts full

    const auto start = goro::clock::now();
    auto done = goro::make_chan<bool>();  // closed to stop the refilling goroutine
    goro::wait_group refilled;
    refilled.add(1);
    goro::go(
        [&refilled, period](goro::send_chan<goro::clock::time_point> tokens,
                            goro::recv_chan<bool> done) {
          goro::ticker tick(period);
          for (bool stop = false; !stop;) {
            goro::select(goro::case_recv(tick.chan(),
                                         [&](std::optional<goro::clock::time_point> t) {
                                           // Go's version blocks on a full bucket, which hides
                                           // one extra token in the blocked send; dropping the
                                           // token keeps the bucket at 3.
                                           (void)tokens.try_send(*t);
                                         }),
                         goro::case_recv(done, [&stop] { stop = true; }));
          }
          refilled.done();
        },
        tokens, done);

    std::vector<goro::clock::time_point> handled;
    for (int req : make_requests(5)) {
      tokens.recv();  // <-bursty
      handled.push_back(goro::clock::now());
      std::printf("bursty request %d at %lld ms\n", req, rounded_ms(handled.back() - start));
    }
    done.close();
    refilled.wait();  // the goroutine uses `refilled` by reference: wait before leaving scope

    const bool held = limit_held(handled, start, period, 3);
    ok = ok && held;
    std::printf("bursty: %zu requests, bucket of 3, limit held: %s\n", handled.size(),
                held ? "yes" : "NO");
  }
  return ok ? 0 : 1;
}
