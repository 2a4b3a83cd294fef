// goro-test: labels=monitor
//
// Spare workers (detail/spare_workers.hpp) and the monitor's netpoll: when
// every worker is stuck in a call goro knows nothing about, queued goroutines,
// due timers and fd-ready goroutines still run, on a spare thread that retires
// afterwards. Fault injection is on so that a refused spare thread can be tested.
#define GORO_FAULT_INJECTION 1

#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

goro::runtime_options workers(std::size_t n, std::size_t spares = 4) {
  goro::runtime_options o;
  o.workers = n;
  o.spare_workers = spares;
  return o;
}

using goro_test::eventually;

/// The calling goroutine's scheduler.
goro::detail::scheduler& this_scheduler() { return goro::detail::current_worker_slot()->sched; }

/// A blocking sleep goro knows nothing about: the worker is stuck in it.
void stuck_sleep(std::chrono::milliseconds d) {
  ::usleep(
      static_cast<useconds_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

/// A time as a number, for atomics.
std::int64_t stamp() { return clock_type::now().time_since_epoch().count(); }

constexpr auto stuck_for = 300ms;

}  // namespace

TEST_CASE("spare workers: one stuck worker does not stall a queued goroutine or a timer",
          "[spare]") {
  goro::runtime rt(workers(1));
  std::atomic<goro::detail::scheduler*> sched{nullptr};
  std::atomic<std::int64_t> queued_ran{0}, timer_fired{0}, stuck_end{0};
  rt.go([&] {
    sched = &this_scheduler();
    // A sleeper whose timer falls due while the worker is stuck, and a
    // goroutine queued behind the stuck one (in runnext).
    goro::go([&] {
      goro::sleep_for(5ms);
      timer_fired = stamp();
    });
    goro::yield();  // the sleeper arms its timer
    goro::go([&] { queued_ran = stamp(); });
    stuck_sleep(stuck_for);
    stuck_end = stamp();
  });
  rt.wait();
  REQUIRE(stuck_end.load() != 0);
  CHECK(queued_ran.load() != 0);
  CHECK(queued_ran.load() < stuck_end.load());
  CHECK(timer_fired.load() != 0);
  CHECK(timer_fired.load() < stuck_end.load());
  CHECK(sched.load()->spare_workers_started() >= 1);
  // Nothing left to run: the spares retire and are joined.
  CHECK(eventually([&] { return sched.load()->spare_workers_running() == 0; }));
}

TEST_CASE("spare workers: two stuck workers do not stall goroutines started from outside",
          "[spare]") {
  goro::runtime rt(workers(2));
  std::atomic<goro::detail::scheduler*> sched{nullptr};
  std::atomic<int> stuck_started{0};
  std::atomic<std::int64_t> first_stuck_end{0}, outside_ran{0}, timer_fired{0};
  for (int i = 0; i < 2; ++i) {
    rt.go([&] {
      sched = &this_scheduler();
      stuck_started.fetch_add(1);
      stuck_sleep(stuck_for);
      std::int64_t zero = 0;
      first_stuck_end.compare_exchange_strong(zero, stamp());
    });
  }
  REQUIRE(eventually([&] { return stuck_started.load() == 2; }));
  rt.go([&] { outside_ran = stamp(); });
  rt.go([&] {
    goro::sleep_for(2ms);
    timer_fired = stamp();
  });
  rt.wait();
  REQUIRE(first_stuck_end.load() != 0);
  CHECK(outside_ran.load() != 0);
  CHECK(outside_ran.load() < first_stuck_end.load());
  CHECK(timer_fired.load() != 0);
  CHECK(timer_fired.load() < first_stuck_end.load());
  CHECK(eventually([&] { return sched.load()->spare_workers_running() == 0; }));
}

TEST_CASE("spare workers: spare_workers = 0 starts none", "[spare]") {
  goro::runtime rt(workers(1, 0));
  std::atomic<goro::detail::scheduler*> sched{nullptr};
  std::atomic<std::int64_t> queued_ran{0}, stuck_start{0}, stuck_end{0};
  rt.go([&] {
    sched = &this_scheduler();
    goro::go([&] { queued_ran = stamp(); });
    stuck_start = stamp();
    stuck_sleep(100ms);
    stuck_end = stamp();
  });
  rt.wait();
  // With no spare and one worker, the queued goroutine cannot run while the
  // worker is stuck. It may run before: under TSan on a slow host the go()
  // took 14 ms and the queued goroutine ran on the same worker thread before
  // the stuck sleep began.
  CHECK(queued_ran.load() != 0);
  CHECK((queued_ran.load() < stuck_start.load() || queued_ran.load() > stuck_end.load()));
  CHECK(sched.load()->spare_workers_started() == 0);
}

TEST_CASE("spare workers: never more than the bound, and a stuck spare holds nothing back",
          "[spare]") {
  goro::runtime rt(workers(1, 1));
  std::atomic<goro::detail::scheduler*> sched{nullptr};
  std::atomic<int> stuck{0};
  std::atomic<std::size_t> most{0};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      if (goro::detail::scheduler* s = sched.load()) {
        const std::size_t n = s->spare_workers_running();
        if (n > most.load()) most = n;
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  std::atomic<std::int64_t> last_ran{0};
  rt.go([&] {
    sched = &this_scheduler();
    // Three goroutines that each get stuck: the worker and the one spare
    // allowed take two; the third waits for one of them.
    for (int i = 0; i < 2; ++i) {
      goro::go([&] {
        stuck.fetch_add(1);
        stuck_sleep(100ms);
      });
    }
    stuck.fetch_add(1);
    stuck_sleep(100ms);
    last_ran = stamp();
  });
  rt.wait();
  sampling = false;
  sampler.join();
  CHECK(stuck.load() == 3);
  CHECK(most.load() == 1);
  CHECK(eventually([&] { return sched.load()->spare_workers_running() == 0; }));
}

TEST_CASE("spare workers: every goroutine runs exactly once while spares come and go", "[spare]") {
  constexpr int n = 200;
  goro::runtime rt(workers(1));
  std::array<std::atomic<int>, n> runs{};
  std::array<std::atomic<int>, n> steps{};
  auto ch = goro::make_chan<int>(4);
  std::atomic<long> received{0};
  rt.go([&] {
    for (int i = 0; i < n; ++i) {
      goro::go([&, i] {
        runs[static_cast<std::size_t>(i)].fetch_add(1);
        for (int k = 0; k < 20; ++k) {
          steps[static_cast<std::size_t>(i)].fetch_add(1);
          if (k % 5 == 0) ch.send(i);
          goro::yield();
        }
      });
    }
    // The worker is stuck twice, with goroutines queued each time; in
    // between it runs them itself, beside a spare that is retiring.
    stuck_sleep(60ms);
    goro::yield();
    stuck_sleep(60ms);
  });
  rt.go([&] {
    for (int i = 0; i < n * 4; ++i) {
      ch.recv();
      received.fetch_add(1);
    }
  });
  rt.wait();
  for (int i = 0; i < n; ++i) {
    CHECK(runs[static_cast<std::size_t>(i)].load() == 1);
    CHECK(steps[static_cast<std::size_t>(i)].load() == 20);
  }
  CHECK(received.load() == n * 4);
}

TEST_CASE("spare workers: a refused spare thread is retried, not fatal", "[spare][faults]") {
  // The goroutine that gets stuck may be preempted at go()'s preemption
  // point (under TSan its fiber's set-up counts in its first time slice);
  // the worker then runs the queued goroutine itself before it gets stuck,
  // no spare is needed, and there is nothing to test: such a round is run
  // again, with a runtime of its own.
  for (int round = 1;; ++round) {
    goro::runtime rt(workers(1));
    std::atomic<goro::detail::scheduler*> sched{nullptr};
    std::atomic<std::int64_t> queued_ran{0}, stuck_start{0}, stuck_end{0};
    const long before = goro::detail::fault::injected(goro::detail::fault::site::thread_start);
    rt.go([&] {
      sched = &this_scheduler();
      goro::go([&] { queued_ran = stamp(); });
      // The next thread start anywhere in the process is refused: the
      // monitor's first spare.
      goro::detail::fault::fail_nth(goro::detail::fault::site::thread_start, 1);
      stuck_start = stamp();
      stuck_sleep(stuck_for);
      stuck_end = stamp();
    });
    rt.wait();
    goro::detail::fault::fail_nth(goro::detail::fault::site::thread_start, 0);
    CHECK(queued_ran.load() != 0);
    if (queued_ran.load() < stuck_start.load() && round < 5) continue;
    INFO("round " << round);
    CHECK(goro::detail::fault::injected(goro::detail::fault::site::thread_start) == before + 1);
    CHECK(queued_ran.load() > stuck_start.load());
    CHECK(queued_ran.load() < stuck_end.load());
    CHECK(eventually([&] { return sched.load()->spare_workers_running() == 0; }));
    break;
  }
}

namespace {

/// A connected pair of non-blocking unix sockets, closed through goro.
struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0);
  }
  ~socket_pair() {
    goro::close_fd(fd[0]);
    goro::close_fd(fd[1]);
  }
};

/// Runs `pollers` loops on rt that keep every worker busy until `stop`
/// (goro::preempt_point: preemptible, or not: stuck), a goroutine waiting
/// for fd[0] to be readable, then makes it readable from outside; returns
/// how long the reader took to run after that, or -1 if it did not within
/// the limit.
std::chrono::milliseconds reader_delay(std::size_t n_workers, bool preemptible) {
  goro::runtime rt(workers(n_workers));
  socket_pair sp;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> busy{0};
  std::atomic<bool> waiting{false};
  std::atomic<std::int64_t> reader_ran{0};
  rt.go([&] {
    waiting = true;
    (void)goro::wait_readable(sp.fd[0], 10s);
    reader_ran = stamp();
  });
  REQUIRE(eventually([&] { return waiting.load(); }));
  std::this_thread::sleep_for(5ms);  // parked on the fd by now, most likely
  for (std::size_t i = 0; i < n_workers; ++i) {
    rt.go([&] {
      busy.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
        if (preemptible) goro::preempt_point();
      }
    });
  }
  REQUIRE(eventually([&] { return busy.load() == n_workers; }));
  std::this_thread::sleep_for(30ms);  // the workers' last polls are behind them
  const std::int64_t written = stamp();
  const char byte = 'x';
  REQUIRE(::write(sp.fd[1], &byte, 1) == 1);
  const bool ran = eventually([&] { return reader_ran.load() != 0; }, 5s);
  stop = true;
  rt.wait();
  if (!ran) return std::chrono::milliseconds(-1);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      clock_type::duration(reader_ran.load() - written));
}

/// reader_delay with one and with two workers is under `limit`.
void check_reader_runs(bool preemptible, std::chrono::milliseconds limit) {
  for (std::size_t n : {1u, 2u}) {
    const auto d = reader_delay(n, preemptible);
    INFO("workers " << n << ": " << d.count() << " ms");
    CHECK(d.count() >= 0);
    CHECK(d < limit);
  }
}

}  // namespace

TEST_CASE("monitor netpoll: an fd-ready goroutine runs while every worker is busy",
          "[spare][netpoll]") {
  // Preemptible pollers: the monitor polls (nobody else has for 10 ms) and
  // the reader, on the global queue, comes before the pollers' next turn:
  // about 10 ms. Without the monitor's poll a busy worker polls every 61st
  // pick, 61 slices of 10-20 ms: over a second.
  check_reader_runs(true, 800ms);
}

TEST_CASE("monitor netpoll: an fd-ready goroutine runs while every worker is stuck",
          "[spare][netpoll]") {
  // Stuck workers never poll and never switch: only the monitor's poll and a
  // spare can run the reader.
  check_reader_runs(false, 2000ms);
}
