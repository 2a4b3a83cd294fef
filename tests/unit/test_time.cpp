// Time: goro::after, goro::timer, goro::ticker, and sleeping, from plain
// threads and from goroutines.
//
// Only lower bounds on time are checked ("took at least d"): a loaded
// machine may make anything late, never early.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <absl/random/random.h>

using namespace std::chrono_literals;
using goro::op_status;

namespace {

using namespace goro_test;

}  // namespace

TEST_CASE("after delivers the time once, no sooner than asked", "[time][after]") {
  on_thread_and_goroutine([](failures& f) {
    const auto t0 = goro::clock::now();
    goro::recv_chan<goro::clock::time_point> c = goro::after(30ms);
    f.expect(c.capacity() == 1, "after's channel should have a buffer of one");
    auto v = c.recv();
    const auto took = goro::clock::now() - t0;
    f.expect(v.has_value(), "after's channel was closed");
    f.expect(at_least(took, 30ms), "after fired early");
    f.expect(v && *v >= t0 + 30ms, "the time delivered is before the deadline");
    f.expect(v && *v <= goro::clock::now(), "the time delivered is in the future");
    f.expect(c.recv_for(60ms).status == op_status::timeout, "after fired twice");
  });
}

TEST_CASE("after with a zero or negative duration fires at once", "[time][after]") {
  on_thread_and_goroutine([](failures& f) {
    for (auto d : {0ms, -5ms}) {
      auto r = goro::after(d).recv_for(60s);
      f.expect(r.status == op_status::ok, "after(" + std::to_string(d.count()) + "ms) never fired");
    }
    // A huge duration must not wrap around into the past.
    goro::timer huge(std::chrono::hours::max());
    f.expect(huge.chan().recv_for(20ms).status == op_status::timeout, "timer(hours::max()) fired");
  });
}

TEST_CASE("many timers at once, from goroutines and threads, each fires after its own time",
          "[time][after]") {
  constexpr int kGoroutines = 100;
  constexpr int kThreads = 4;
  std::atomic<int> fired{0};
  failures f;
  auto wait_one = [&](int ms) {
    const auto t0 = goro::clock::now();
    auto v = goro::after(std::chrono::milliseconds(ms)).recv();
    f.expect(v.has_value(), "closed");
    f.expect(at_least(goro::clock::now() - t0, std::chrono::milliseconds(ms)),
             "fired early: " + std::to_string(ms) + "ms");
    ++fired;
  };
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    absl::BitGen gen = seeded_bitgen();
    for (int k = 0; k < kGoroutines; ++k) rt.go(wait_one, absl::Uniform(gen, 1, 60));
    for (int k = 0; k < kThreads; ++k) threads.emplace_back(wait_one, absl::Uniform(gen, 1, 60));
  }
  for (auto& t : threads) t.join();
  CHECK(fired.load() == kGoroutines + kThreads);
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("the shortest of several timers wins a select", "[time][after]") {
  on_thread_and_goroutine([](failures& f) {
    goro::timer t10s(10s), t5s(5s);
    const std::size_t i =
        goro::select(goro::case_recv(t10s.chan()), goro::case_recv(goro::after(20ms)),
                     goro::case_recv(t5s.chan()));
    f.expect(i == 1, "the shortest timer lost");
  });
}

TEST_CASE("a runtime destroyed with an after() still pending frees it", "[time][after][leak]") {
  // Found by LeakSanitizer (the ASan build): an after() armed on an explicit
  // runtime that is destroyed before it fires must not leak its state.
  std::atomic<bool> armed{false};
  {
    goro::runtime rt(workers(1));
    rt.go([&] {
      (void)goro::after(1h);
      armed = true;
    });
  }
  CHECK(armed.load());
}

TEST_CASE("timer: stop before it fires", "[time][timer]") {
  on_thread_and_goroutine([](failures& f) {
    goro::timer t(40ms);
    f.expect(t.stop(), "stop of a pending timer returned false");
    f.expect(t.chan().recv_for(100ms).status == op_status::timeout, "a stopped timer fired");
    f.expect(!t.stop(), "a second stop returned true");
  });
}

TEST_CASE("timer: stop after it fired", "[time][timer]") {
  on_thread_and_goroutine([](failures& f) {
    {
      goro::timer t(5ms);
      auto v = t.chan().recv_for(60s);
      f.expect(v.status == op_status::ok, "the timer never fired");
      f.expect(!t.stop(), "stop after firing returned true");
    }
    {
      // Fired but not received: stop still says false, and (as in Go 1.23)
      // the stale value is gone.
      goro::timer t(5ms);
      goro::sleep_for(40ms);
      f.expect(!t.stop(), "stop after firing (value unread) returned true");
      f.expect(t.chan().try_recv().status == op_status::empty, "a stale time survived stop()");
    }
  });
}

TEST_CASE("timer: reset of a pending timer returns true", "[time][timer]") {
  // Like Go's Timer.Reset: true when the timer was still active.
  goro::timer t(60s);
  CHECK(t.reset(60s));
  CHECK(t.reset(10ms));
  REQUIRE(t.chan().recv_for(60s).status == op_status::ok);
  CHECK_FALSE(t.reset(60s));  // had fired
  CHECK(t.reset(60s));        // pending again
}

TEST_CASE("timer: reset", "[time][timer]") {
  on_thread_and_goroutine([](failures& f) {
    {
      goro::timer t(60s);
      const auto t0 = goro::clock::now();
      t.reset(20ms);
      auto v = t.chan().recv_for(60s);
      f.expect(v.status == op_status::ok, "the reset timer never fired");
      f.expect(at_least(goro::clock::now() - t0, 20ms), "the reset timer fired early");
      f.expect(v.value && *v.value >= t0 + 20ms, "time before the new deadline");
    }
    {
      goro::timer t(5ms);
      f.expect(t.chan().recv_for(60s).status == op_status::ok, "never fired");
      f.expect(!t.reset(10ms), "reset of a fired timer returned true");
      f.expect(t.chan().recv_for(60s).status == op_status::ok,
               "a fired timer did not fire again after reset");
      f.expect(t.chan().recv_for(30ms).status == op_status::timeout, "fired twice after one reset");
    }
    {
      // Reset pushes the deadline back: it does not fire at the old time.
      goro::timer t(20ms);
      const auto t0 = goro::clock::now();
      t.reset(200ms);
      auto v = t.chan().recv_for(60s);
      f.expect(v.status == op_status::ok, "never fired after reset");
      f.expect(at_least(goro::clock::now() - t0, 200ms), "fired at the old deadline");
    }
    {
      goro::timer t(10s);
      f.expect(t.stop(), "stop");
      f.expect(!t.reset(5ms), "reset of a stopped timer returned true");
      f.expect(t.chan().recv_for(60s).status == op_status::ok, "a stopped timer did not restart");
    }
  });
}

TEST_CASE("timer: destroyed before firing, its channel outlives it and stays silent",
          "[time][timer]") {
  goro::recv_chan<goro::clock::time_point> c;
  {
    goro::timer t(10ms);
    c = t.chan();
  }
  CHECK(c.recv_for(60ms).status == op_status::timeout);
  // Many short-lived timers, some destroyed while firing: no crash, no leak.
  goro::runtime rt(workers(2));
  for (int k = 0; k < 200; ++k) {
    rt.go([k] {
      goro::timer t(std::chrono::microseconds(k % 7 * 100));
      if (k % 2) goro::sleep_for(std::chrono::microseconds(k % 5 * 100));
    });
  }
}

TEST_CASE("ticker: ticks at about the period, in order, until stopped", "[time][ticker]") {
  on_thread_and_goroutine([](failures& f) {
    constexpr auto period = 10ms;
    constexpr int kTicks = 5;
    const auto t0 = goro::clock::now();
    goro::ticker tick(period);
    std::vector<goro::clock::time_point> ticks;
    for (int k = 0; k < kTicks; ++k) {
      auto v = tick.chan().recv_for(60s);
      if (v.status != op_status::ok) {
        f.add("tick " + std::to_string(k) + " never came");
        return;
      }
      ticks.push_back(*v.value);
    }
    // Ticks may be dropped for a slow receiver, but each one received is a
    // later tick than the last: the k-th is at least k periods after start.
    for (std::size_t k = 0; k < ticks.size(); ++k) {
      f.expect(ticks[k] >= t0 + period * static_cast<int>(k + 1),
               "tick " + std::to_string(k) + " early");
      if (k > 0) f.expect(ticks[k] > ticks[k - 1], "ticks out of order");
    }
    f.expect(at_least(goro::clock::now() - t0, period * kTicks), "five ticks too soon");
    tick.stop();
    f.expect(tick.chan().recv_for(50ms).status == op_status::timeout, "a tick after stop()");
  });
}

TEST_CASE("ticker: a slow receiver misses ticks instead of queueing them", "[time][ticker]") {
  goro::ticker tick(2ms);
  goro::sleep_for(50ms);  // about 25 periods
  // Draining takes microseconds: it finds the one pending tick, perhaps one
  // more that fired meanwhile, never the ~25 a queueing ticker would hold.
  int drained = 0;
  while (tick.chan().try_recv().status == op_status::ok) ++drained;
  CHECK(drained >= 1);
  CHECK(drained <= 3);
  tick.stop();
}

TEST_CASE("ticker: reset from another thread keeps it on its runtime", "[time][ticker]") {
  // Timers fire only where their runtime's workers schedule. The goroutine
  // below holds rt's only worker without yielding while the main thread
  // resets its ticker: if reset moved the ticker to the caller's (default)
  // runtime, ticks would arrive meanwhile. No spare worker: one would fire
  // the tick on rt (rightly) while its only worker is held.
  goro::runtime_options options = workers(1);
  options.spare_workers = 0;
  goro::runtime rt(options);
  std::atomic<goro::ticker*> made{nullptr};
  std::atomic<bool> was_reset{false};
  failures f;
  rt.go([&] {
    goro::ticker tick(1h);
    made = &tick;
    while (!was_reset.load()) {
    }
    const auto until = goro::clock::now() + 30ms;
    while (goro::clock::now() < until) {
    }
    // size(), not try_recv(): try_recv is a preemption point, and this
    // goroutine is long past its time slice: it would yield and let its own
    // worker fire the tick.
    f.expect(tick.chan().size() == 0, "a tick came while the ticker's runtime was busy");
    f.expect(tick.chan().recv_for(60s).status == op_status::ok, "no tick after reset");
  });
  while (made.load() == nullptr) std::this_thread::yield();
  made.load()->reset(1ms);
  was_reset = true;
  rt.wait();
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("ticker: reset changes the period", "[time][ticker]") {
  goro::ticker tick(1h);
  const auto t0 = goro::clock::now();
  tick.reset(10ms);
  auto v = tick.chan().recv_for(60s);
  REQUIRE(v.status == op_status::ok);
  CHECK(at_least(goro::clock::now() - t0, 10ms));
  CHECK(*v.value >= t0 + 10ms);
  CHECK(tick.chan().recv_for(60s).status == op_status::ok);
  REQUIRE_THROWS_AS(tick.reset(0ms), std::invalid_argument);
  tick.stop();
  CHECK(tick.chan().recv_for(40ms).status == op_status::timeout);
}

TEST_CASE("timer: a reset between a worker taking it out and firing it wins", "[time][timer]") {
  // The interleaving, played step by step on the one worker (which our
  // goroutine holds, so nothing else touches the heap): a worker takes the
  // due node out of the heap; the user resets the timer (stop, re-arm for
  // later); then the worker's fire runs. Once reset has returned no time may
  // arrive (Go 1.23's rule); the late fire used to send one anyway, and took
  // the new arming's heap reference with it.
  using goro::detail::time_source;
  using goro::detail::timer_node;
  failures f;
  goro::runtime_options options = workers(1);
  options.spare_workers = 0;  // nothing else may touch the heap, a spare neither
  goro::runtime rt(options);
  rt.go([&f] {
    auto src = std::make_shared<time_source>(goro::clock::duration::zero());
    src->arm(goro::clock::now());
    std::vector<timer_node*> due;
    src->sched->timers().take_due(goro::clock::now(), due);
    if (due.size() != 1 || due[0] != &src->node) return f.add("the node was not due");
    // Taken out but not delivered: the reset prevents the delivery, and says
    // so (Go 1.23: no time arrives after Stop/Reset returned true).
    f.expect(src->stop_and_drain(), "reset: a due, undelivered time was prevented");
    src->arm(goro::clock::now() + 1h);  // reset: armed again for later
    time_source::fire(due[0]);          // the worker's late fire
    f.expect(src->out.try_recv().status == op_status::empty, "a stale time arrived");
    f.expect(src->stop_and_drain(), "the new arming was lost");
  });
  rt.wait();
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("ticker: stopped or destroyed while a tick is being delivered", "[time][ticker]") {
  // Tiny periods make stop()/~ticker() race with the worker that fires and
  // re-arms the tick; ThreadSanitizer and AddressSanitizer see any access to
  // the ticker's state after it is freed.
  goro::runtime rt(workers(2));
  for (int g = 0; g < 2; ++g) {
    rt.go([] {
      for (int k = 0; k < 300; ++k) {
        goro::ticker t(std::chrono::microseconds(1 + k % 3));
        if (k % 2) (void)t.chan().recv_for(10ms);
        if (k % 3 == 0) t.stop();
        if (k % 5 == 0) t.reset(std::chrono::microseconds(2));
      }
    });
  }
  for (int k = 0; k < 300; ++k) {
    goro::ticker t(std::chrono::microseconds(1 + k % 3));
    if (k % 2) (void)t.chan().recv_for(10ms);
  }
}

TEST_CASE("ticker: a period that is not positive throws", "[time][ticker]") {
  REQUIRE_THROWS_AS(goro::ticker(0ms), std::invalid_argument);
  REQUIRE_THROWS_AS(goro::ticker(-1s), std::invalid_argument);
  REQUIRE_THROWS_AS(goro::ticker(std::chrono::nanoseconds(0)), std::invalid_argument);
  REQUIRE_NOTHROW(goro::ticker(1ns));
}

TEST_CASE("ticker used in a select loop with a quit channel", "[time][ticker]") {
  auto quit = goro::make_chan<int>();
  std::atomic<int> ticks{0};
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      goro::ticker tick(2ms);
      for (bool done = false; !done;) {
        goro::select(goro::case_recv(tick.chan(), [&](auto) { ++ticks; }),
                     goro::case_recv(quit, [&](auto) { done = true; }));
      }
    });
    std::thread stopper([&] {
      while (ticks.load() < 5) std::this_thread::sleep_for(1ms);
      quit.close();
    });
    stopper.join();
  }
  CHECK(ticks.load() >= 5);
}

TEST_CASE("sleep_for waits at least the duration, on threads and goroutines", "[time][sleep]") {
  on_thread_and_goroutine([](failures& f) {
    for (auto d : {1ms, 15ms}) {
      const auto t0 = goro::clock::now();
      goro::sleep_for(d);
      f.expect(at_least(goro::clock::now() - t0, d), "slept less than asked");
    }
    const auto t0 = goro::clock::now();
    goro::sleep_until(t0 + 10ms);
    f.expect(goro::clock::now() >= t0 + 10ms, "sleep_until woke early");
    goro::sleep_until(std::chrono::system_clock::now() - 1s);  // past: returns
    goro::sleep_for(-1ms);
  });
}
