// The runtime monitor: time slices and preemption points, stuck workers,
// deadlock detection, goroutine dumps and the scheduler trace.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

goro::runtime_options workers(std::size_t n) {
  goro::runtime_options o;
  o.workers = n;
  return o;
}

using goro_test::eventually;

/// Counts as a preemption point nothing at all: a loop that only this can end.
void spin_until(const std::atomic<bool>& flag) {
  while (!flag.load(std::memory_order_relaxed)) {
  }
}

}  // namespace

TEST_CASE("monitor: a select-with-default poller ends on one worker once done is closed",
          "[monitor][preempt]") {
  goro::runtime rt(workers(1));
  auto done = goro::make_chan<int>();
  std::atomic<long> polls{0};
  std::atomic<bool> finished{false};
  std::atomic<bool> escape{false};  // lets a failing test end instead of hanging
  rt.go([done, &polls, &finished, &escape] {
    bool closer_started = false;
    for (bool open = true; open && !escape.load(std::memory_order_relaxed);) {
      goro::select(goro::case_recv(done, [&open] { open = false; }),
                   goro::case_default([&polls] { polls.fetch_add(1, std::memory_order_relaxed); }));
      // Started by the poller after its first poll, on its worker: only
      // preemption lets the closer run. (Started from outside beside the
      // poller, it could run first when the poller was preempted at its
      // first select: under TSan, whose fiber set-up counts in the
      // goroutine's first slice, a CI run saw no poll at all.)
      if (!closer_started) {
        closer_started = true;
        goro::go([done] { done.close(); });
      }
    }
    finished = true;
  });
  CHECK(eventually([&] { return finished.load(); }));
  escape = true;
  rt.wait();
  CHECK(polls.load() > 0);
}

TEST_CASE("monitor: try_recv pollers on every worker do not starve a sleeper or a timer",
          "[monitor][preempt]") {
  goro::runtime rt(workers(2));
  auto stop = goro::make_chan<int>();
  for (int i = 0; i < 2; ++i) {
    rt.go([stop] {
      while (stop.try_recv().status == goro::op_status::empty) {
      }
    });
  }
  std::atomic<bool> slept{false};
  std::atomic<bool> fired{false};
  // Give the pollers both workers first.
  std::this_thread::sleep_for(20ms);
  rt.go([&slept] {
    goro::sleep_for(5ms);
    slept = true;
  });
  rt.go([&fired] {
    auto timer = goro::after(5ms);
    timer.recv();
    fired = true;
  });
  CHECK(eventually([&] { return slept.load() && fired.load(); }));
  stop.close();
  rt.wait();
}

TEST_CASE("monitor: goro::preempt_point lets a compute loop share its only worker",
          "[monitor][preempt]") {
  goro::runtime rt(workers(1));
  std::atomic<bool> other_ran{false};
  std::atomic<bool> escape{false};
  std::atomic<long> points{0};
  rt.go([&] {
    bool other_started = false;
    while (!other_ran.load(std::memory_order_relaxed) && !escape.load(std::memory_order_relaxed)) {
      goro::preempt_point();
      points.fetch_add(1, std::memory_order_relaxed);
      // Started after the first point, as in the poller test above: the
      // loop has passed a point by construction, and only a preemption at
      // one lets the other goroutine run.
      if (!other_started) {
        other_started = true;
        goro::go([&other_ran] { other_ran = true; });
      }
    }
  });
  CHECK(eventually([&] { return other_ran.load(); }));
  escape = true;
  rt.wait();
  CHECK(points.load() > 0);
  // On a plain thread it does nothing.
  goro::preempt_point();
}

TEST_CASE("monitor: go() is a preemption point", "[monitor][preempt]") {
  goro::runtime rt(workers(1));
  std::atomic<bool> stop{false};
  std::atomic<bool> escape{false};
  rt.go([&stop, &escape] {
    // Starts goroutines that end at once, and nothing else.
    while (!stop.load(std::memory_order_relaxed) && !escape.load(std::memory_order_relaxed)) {
      goro::go([] {});
    }
  });
  rt.go([&stop] { stop = true; });
  CHECK(eventually([&] { return stop.load(); }));
  escape = true;
  rt.wait();
}

TEST_CASE("monitor: a ping-pong pair does not starve a third goroutine", "[monitor][preempt]") {
  goro::runtime rt(workers(1));
  auto ping = goro::make_chan<int>();
  auto pong = goro::make_chan<int>();
  std::atomic<bool> third_ran{false};
  std::atomic<bool> escape{false};
  rt.go([ping, pong] {
    for (int v : ping) pong.send(v);
    pong.close();
  });
  rt.go([ping, pong, &third_ran, &escape] {
    while (!third_ran.load(std::memory_order_relaxed) && !escape.load(std::memory_order_relaxed)) {
      ping.send(1);
      pong.recv();
    }
    ping.close();
  });
  rt.go([&third_ran] { third_ran = true; });
  CHECK(eventually([&] { return third_ran.load(); }));
  escape = true;
  rt.wait();
}

TEST_CASE("monitor: a goroutine stuck outside goro does not stall the goroutines queued behind it",
          "[monitor][stuck]") {
  // Work stealing by the worker woken for the new goroutines usually takes
  // them first; the monitor's stuck-worker check (20 ms) is the backstop.
  goro::runtime rt(workers(2));
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  rt.go([&] {
    // Queued on this worker (runnext and local queue), then the worker is held
    // by a wait goro knows nothing about.
    for (int i = 0; i < 8; ++i) rt.go([&ran] { ran.fetch_add(1); });
    spin_until(release);
  });
  const bool all_ran = eventually([&] { return ran.load() == 8; });
  release = true;
  rt.wait();
  CHECK(all_ran);
}

TEST_CASE("monitor: dump_goroutines lists every goroutine with its wait and creator",
          "[monitor][dump]") {
  goro::runtime rt(workers(2));
  auto c = goro::make_chan<int>();
  auto full = goro::make_chan<int>(2);
  full.send(1);
  full.send(2);
  goro::wait_group wg;
  wg.add(1);
  goro::mutex m;
  m.lock();
  std::atomic<bool> release{false};
  const unsigned recv_line = __LINE__ + 1;
  rt.go([c] { c.recv(); });
  rt.go([full] { full.send(3); });
  rt.go([&wg] { wg.wait(); });
  rt.go([&m] {
    m.lock();
    m.unlock();
  });
  rt.go([c] { goro::select(goro::case_recv(c), goro::case_recv(c)); });
  rt.go([&release] {
    while (!release.load()) goro::sleep_for(20ms);
  });
  rt.go([&release] { spin_until(release); });
  REQUIRE(rt.num_goroutines() == 7);
  // Parked: everything but the spinner (reason stored before it parks).
  REQUIRE(eventually([&] {
    std::ostringstream s;
    rt.dump_goroutines(s);
    const std::string d = s.str();
    return goro_test::contains(d, "[chan receive]") && goro_test::contains(d, "[chan send]") &&
           goro_test::contains(d, "[sync.WaitGroup.Wait]") &&
           goro_test::contains(d, "[sync.Mutex.Lock]") && goro_test::contains(d, "[select]") &&
           goro_test::contains(d, "[sleep]") && goro_test::contains(d, "[running]");
  }));
  std::ostringstream s;
  rt.dump_goroutines(s);
  const std::string d = s.str();
  INFO(d);
  std::size_t blocks = 0;
  for (std::size_t at = d.find("goroutine "); at != std::string::npos;
       at = d.find("goroutine ", at + 1)) {
    ++blocks;
  }
  CHECK(blocks == 7);
  CHECK(goro_test::contains(d, "created by "));
  CHECK(goro_test::contains(d, "test_monitor.cpp:" + std::to_string(recv_line) + "\n"));
  CHECK(goro_test::contains(d, "(capacity 0, length 0)"));
  CHECK(goro_test::contains(d, "(capacity 2, length 2)"));
  // The runtime keeps going: wake everyone and finish.
  release = true;
  c.close();
  full.recv();
  wg.done();
  m.unlock();
  rt.wait();
  std::ostringstream empty;
  rt.dump_goroutines(empty);
  CHECK(empty.str().empty());
}

TEST_CASE("monitor: a dump shows how many minutes a goroutine has waited, as Go does",
          "[monitor][dump]") {
  // read_block is given a time minutes past the goroutine's park (a dump
  // reads the clock itself): under a minute nothing, then "1 minute",
  // then "N minutes". The park's stamp is the monitor's coarse clock, a
  // tick behind, so no time here is within seconds of a whole minute.
  using goro::detail::goroutine;
  goro::runtime rt(workers(1));
  // The park is stamped with the monitor's coarse clock: set from its first tick.
  REQUIRE(eventually([] { return goro::detail::coarse_now_ns().load() != 0; }));
  auto c = goro::make_chan<int>();
  std::atomic<goroutine*> parked{nullptr};
  rt.go([c, &parked] {
    parked = goro::detail::current_goroutine();
    c.recv();
  });
  REQUIRE(eventually([&] {
    goroutine* g = parked.load();
    return g != nullptr && g->status.load() == goro::detail::g_status::waiting;
  }));
  const std::int64_t now = goro::detail::steady_ns(std::chrono::steady_clock::now());
  auto head = [&](std::int64_t later_ns) {
    return goro::detail::read_block(*parked.load(), now + later_ns).head;
  };
  constexpr std::int64_t second = 1000000000;
  CHECK(goro_test::contains(head(0), "[chan receive]:"));
  CHECK(goro_test::contains(head(50 * second), "[chan receive]:"));
  CHECK(goro_test::contains(head(65 * second), "[chan receive, 1 minute]:"));
  CHECK(goro_test::contains(head(185 * second), "[chan receive, 3 minutes]:"));
  CHECK(goro_test::contains(head((90 * 60 + 20) * second), "[chan receive, 90 minutes]:"));
  c.send(1);
  rt.wait();
}

/// Why this build can never see a deadlock report, or nullptr. Detection
/// needs every thread of the process to be goro's or parked in goro; some
/// builds run threads of their own, which (rightly) keep it silent.
static const char* no_deadlock_reports() {
  if (goro_test::config_has_tag("tsan")) {
    return "not under ThreadSanitizer: it runs a thread goro does not know, so no deadlock is "
           "ever reported";
  }
  if (goro_test::config_has_tag("qemu")) {
    return "not under qemu-user: the emulator runs threads of its own that goro does not know, "
           "so no deadlock is ever reported";
  }
  return nullptr;
}

TEST_CASE("monitor: deadlocks are reported", "[monitor][deadlock][death]") {
  if (const char* why = no_deadlock_reports()) {
    WARN(why);
    return;
  }
  struct expectation {
    const char* mode;
    const char* reason;
  };
  for (auto e : {expectation{"recv", "[chan receive]"}, expectation{"range", "[chan receive]"},
                 expectation{"wait_group", "[sync.WaitGroup.Wait]"},
                 expectation{"mutex", "[sync.Mutex.Lock]"}, expectation{"select", "[select]"}}) {
    INFO("mode " << e.mode);
    const auto r = goro_test::run_program(goro_test::program_path("deadlock"), {e.mode}, {}, 60s);
    INFO(r.describe());
    CHECK(r.signal == SIGABRT);
    CHECK(goro_test::contains(r.err, "goro: fatal error: all goroutines are asleep - deadlock!"));
    CHECK(goro_test::contains(r.err, e.reason));
    // "line N" on stdout: the line of the go() call the dump must name.
    const auto at = r.out.find("line ");
    REQUIRE(at != std::string::npos);
    const std::string line = r.out.substr(at + 5, r.out.find('\n', at) - at - 5);
    CHECK(goro_test::contains(r.err, "deadlock.cpp:" + line + "\n"));
    CHECK_FALSE(goro_test::contains(r.out, "no deadlock"));
  }
}

TEST_CASE("monitor: no deadlock report while something can still wake a goroutine",
          "[monitor][deadlock]") {
  for (const char* mode : {"timer", "fd", "thread", "blocking"}) {
    INFO("mode " << mode);
    const auto r = goro_test::run_program(goro_test::program_path("deadlock"), {mode}, {}, 60s);
    INFO(r.describe());
    CHECK(r.succeeded());
    CHECK(goro_test::contains(r.out, "no deadlock"));
    CHECK_FALSE(goro_test::contains(r.err, "deadlock!"));
  }
}

TEST_CASE("monitor: on_deadlock is called once instead of aborting", "[monitor][deadlock]") {
  if (const char* why = no_deadlock_reports()) {
    WARN(why);
    return;
  }
  auto c = goro::make_chan<int>();
  std::atomic<int> calls{0};
  goro::runtime_options o = workers(2);
  o.on_deadlock = [&calls, c] {
    if (calls.fetch_add(1) == 0) c.close();  // the way out
  };
  goro::runtime rt(o);
  rt.go([c] { c.recv(); });
  rt.wait();  // main counts as blocked in goro: a deadlock until the handler acts
  CHECK(calls.load() == 1);
}

TEST_CASE("monitor: detect_deadlock = false keeps the monitor silent", "[monitor][deadlock]") {
  auto c = goro::make_chan<int>();
  goro::runtime_options o = workers(1);
  o.detect_deadlock = false;
  std::atomic<int> calls{0};
  o.on_deadlock = [&calls] { calls.fetch_add(1); };
  goro::runtime rt(o);
  rt.go([c] { c.recv(); });
  std::this_thread::sleep_for(400ms);
  c.close();
  rt.wait();
  CHECK(calls.load() == 0);
}

TEST_CASE("monitor: GORO_SCHEDTRACE prints the scheduler's state", "[monitor][trace]") {
  const auto r = goro_test::run_program(goro_test::program_path("monitor_output"), {"trace"},
                                        {"GORO_SCHEDTRACE=20"}, 60s);
  INFO(r.describe());
  CHECK(r.succeeded());
  CHECK(goro_test::contains(r.err, "SCHED "));
  CHECK(goro_test::contains(r.err, "ms: workers=2 idle="));
  CHECK(goro_test::contains(r.err, " goroutines=1 timers=1"));
}

TEST_CASE("monitor: a ping-pong pair shares one time slice and is preempted",
          "[monitor][preempt][trace]") {
  // Each pick from runnext inherits the slice, so in 500 ms of CPU the pair
  // is preempted every 10-20 ms. Were each pick a new slice, the monitor
  // would count only the slices stretched by the OS descheduling the worker
  // (few on a quiet machine; a loaded one can hide the difference, never
  // fail the test).
  const auto r = goro_test::run_program(goro_test::program_path("monitor_output"), {"pingpong"},
                                        {"GORO_SCHEDTRACE=20"}, 60s);
  INFO(r.describe());
  REQUIRE(r.succeeded());
  const auto at = r.err.rfind("preemptions=");
  REQUIRE(at != std::string::npos);
  CHECK(std::stol(r.err.substr(at + 12)) >= 10);
}

TEST_CASE("monitor: GORO_SIGQUIT_DUMP=1 dumps the goroutines on SIGQUIT and goes on",
          "[monitor][dump]") {
  const auto r = goro_test::run_program(goro_test::program_path("monitor_output"), {"sigquit"},
                                        {"GORO_SIGQUIT_DUMP=1"}, 60s);
  INFO(r.describe());
  CHECK(r.succeeded());
  CHECK(goro_test::contains(r.err, "goro: SIGQUIT: goroutines of runtime"));
  CHECK(goro_test::contains(r.err, "[chan receive]:"));
  CHECK(goro_test::contains(r.err, "monitor_output.cpp:"));
  CHECK(goro_test::contains(r.out, "still running"));
}
