// fan_in_timeout: one consumer selecting over several producers, with timeouts.
//
// Three producers send at different speeds (every 10 ms, every 35 ms, every
// second). The consumer is Go's
//
//   timeout := time.After(200 * time.Millisecond)   // once: an overall deadline
//   for {
//       select {
//       case v := <-fast:   ...
//       case v := <-medium: ...
//       case v := <-slow:   ...
//       case <-timeout:     fmt.Println("timed out"); return
//       }
//   }
//
// followed by a receive with its own timeout (Go's select over one channel
// and a fresh time.After, goro's recv_for). Making `timeout` once, outside
// the loop, bounds the whole loop; a time.After made inside the loop would
// bound each wait instead, and a steady trickle of values would keep it
// from ever firing.
//
// The slow producer's first value is due after one second, well after both
// deadlines, so the last lines are the same on every run.
#include "goro.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace std::chrono_literals;

namespace {

// func producer(out chan<- int, every time.Duration, done <-chan struct{})
void producer(goro::send_chan<int> out, goro::clock::duration every, goro::recv_chan<bool> done,
              goro::wait_group* wg) {
  bool stop = false;
  auto on_done = [&stop] { stop = true; };
  for (int n = 1; !stop; ++n) {
    // Wait for the next value's time, or for shutdown: a plain sleep_for
    // would keep a goroutine that should stop asleep for up to a second.
    // A timer rather than after(): it is disarmed when it goes out of scope.
    goro::timer next(every);
    goro::select(goro::case_recv(next.chan()), goro::case_recv(done, on_done));
    if (stop) break;
    // select { case out <- n: case <-done: }: never block on a consumer that left.
    goro::select(goro::case_send(out, n), goro::case_recv(done, on_done));
  }
  wg->done();
}

}  // namespace

int main(int argc, char** argv) {
  const long budget_ms = argc > 1 ? std::atol(argv[1]) : 200;
  if (budget_ms <= 0 || budget_ms > 900) {
    std::fprintf(stderr, "usage: %s [budget in ms, 1..900]\n", argv[0]);
    return 2;
  }

  auto fast = goro::make_chan<int>();
  auto medium = goro::make_chan<int>();
  auto slow = goro::make_chan<int>();
  auto done = goro::make_chan<bool>();  // closed to tell every producer to stop

  goro::wait_group wg;
  wg.add(3);
  goro::go(producer, fast, goro::clock::duration(10ms), done, &wg);
  goro::go(producer, medium, goro::clock::duration(35ms), done, &wg);
  goro::go(producer, slow, goro::clock::duration(1s), done, &wg);

  // One overall deadline for the whole loop (time.After outside the for).
  const std::chrono::milliseconds budget(budget_ms);
  goro::recv_chan<goro::clock::time_point> deadline = goro::after(budget);

  int from_fast = 0, from_medium = 0, from_slow = 0;
  for (bool timed_out = false; !timed_out;) {
    goro::select(goro::case_recv(fast,
                                 [&](std::optional<int> v) {
                                   std::printf("fast %d\n",
                                               *v);  // producers never close: v always has a value
                                   ++from_fast;
                                 }),
                 goro::case_recv(medium,
                                 [&](std::optional<int> v) {
                                   std::printf("medium %d\n", *v);
                                   ++from_medium;
                                 }),
                 goro::case_recv(slow,
                                 [&](std::optional<int> v) {
                                   std::printf("slow %d\n", *v);
                                   ++from_slow;
                                 }),
                 goro::case_recv(deadline, [&] { timed_out = true; }));
  }
  std::printf("timed out after %lld ms: fast=%d medium=%d slow=%d\n",
              static_cast<long long>(budget.count()), from_fast, from_medium, from_slow);

  // A per-receive timeout: give the slow producer one more, short chance.
  // select { case v := <-slow: ... case <-time.After(50 * time.Millisecond): ... }
  goro::recv_result<int> last = slow.recv_for(50ms);
  if (last) {
    std::printf("slow %d (late)\n", *last.value);
  } else {
    std::printf("slow: no value within 50 ms (%s)\n",
                last.status == goro::op_status::timeout ? "timeout" : "closed");
  }

  done.close();  // one close wakes every producer, wherever it is waiting
  wg.wait();
  std::printf("all producers stopped\n");
  return 0;
}
