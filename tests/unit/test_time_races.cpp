// timer stop/reset racing a fire (issue 9). A worker takes a due timer out of
// the heap under the heap lock and runs its fire function later, after the
// lock is released: stop() and reset() can run in between. The tests make
// that window deterministic by doing the worker's part by hand on a source
// armed an hour ahead (so no real worker touches it), and then race the real
// thing many times.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

namespace {

using goro::detail::time_source;

std::shared_ptr<time_source> one_shot() {
  auto& sched = goro::detail::scheduler_for_go();
  return std::make_shared<time_source>(&sched, goro::clock::duration::zero(),
                                       goro::make_chan<goro::clock::time_point>(1));
}

/// What a worker's take_due does to a due node: take it out of the heap.
void take_out(time_source& src) {
  std::lock_guard<goro::detail::spin_lock> guard(src.sched->timers().lock());
  REQUIRE(src.sched->timers().remove_locked(&src.node));
}

}  // namespace

TEST_CASE(
    "timer race: stop between a worker taking the timer and firing it returns true and nothing "
    "arrives") {
  auto src = one_shot();
  src->arm(goro::clock::now() + 1h);
  take_out(*src);                 // due and taken; its fire has not run yet
  CHECK(src->stop_and_drain());   // it prevented the delivery: true (it used to say false)
  time_source::fire(&src->node);  // the worker gets there
  CHECK(src->out.try_recv().status == goro::op_status::empty);
  CHECK_FALSE(src->stop_and_drain());
}

TEST_CASE("timer race: a stale firing after a reset delivers at most once per arming") {
  auto src = one_shot();
  src->arm(goro::clock::now() + 1h);
  take_out(*src);                     // the first arming is due and taken
  CHECK(src->stop_and_drain());       // reset: stop ...
  src->arm(goro::clock::now() + 1h);  // ... and arm again
  // The stale firing while the new arming waits in the heap: nothing.
  time_source::fire(&src->node);
  CHECK(src->out.try_recv().status == goro::op_status::empty);
  // The new arming comes due and is taken too; its firing and the stale
  // one (if it had run late) together deliver exactly once.
  take_out(*src);
  src->arm(goro::clock::now() + 1h);  // a reset that raced: still nothing delivered
  CHECK(src->out.try_recv().status == goro::op_status::empty);
  take_out(*src);
  const auto before = goro::clock::now();
  time_source::fire(&src->node);  // one of the two taken-out firings
  auto got = src->out.try_recv();
  REQUIRE(got.status == goro::op_status::ok);
  CHECK(*got.value >= before);    // the time of delivery, not of a stale firing
  time_source::fire(&src->node);  // the other: the arming has delivered already
  time_source::fire(&src->node);
  CHECK(src->out.try_recv().status == goro::op_status::empty);
  CHECK_FALSE(src->stop_and_drain());
}

TEST_CASE(
    "timer race: a firing taken out before a reset keeps the source alive after the owner lets "
    "go") {
  auto src = one_shot();
  src->arm(goro::clock::now() + 1h);
  take_out(*src);
  src->stop_and_drain();
  src->arm(goro::clock::now() + 1h);  // the reset: the taken firing still holds a reference
  src->stop_and_drain();              // the owner stops it ...
  std::weak_ptr<time_source> weak = src;
  time_source* raw = src.get();
  src.reset();  // ... and lets go
  REQUIRE_FALSE(
      weak.expired());  // the pending firing's reference (it used to be dropped: use after free)
  time_source::fire(&raw->node);  // the worker finally runs it: frees the source
  CHECK(weak.expired());
}

TEST_CASE("timer race: after reset returns, the old time never arrives (real workers)") {
  // reset(1h) races the fire of a timer due now, many times; nothing may
  // arrive after reset returns.
  const int rounds = 3000 / goro_test::kScale;
  int late = 0;
  for (int i = 0; i < rounds; ++i) {
    goro::timer t(std::chrono::microseconds(i % 50));
    if (i % 3 == 0) std::this_thread::yield();
    t.reset(1h);
    // Give a stale firing time to misbehave; then nothing may be there.
    if (i % 100 == 0) std::this_thread::sleep_for(1ms);
    if (t.chan().try_recv().status != goro::op_status::empty) ++late;
    t.stop();
  }
  CHECK(late == 0);
}

TEST_CASE(
    "timer misuse: a ticker or timer that outlives its runtime is a fatal error, not a use after "
    "free",
    "[death]") {
  for (const char* kind : {"ticker", "timer"}) {
    const auto r =
        goro_test::run_program(goro_test::program_path("timer_outlives_runtime"), {kind});
    INFO(r.describe());
    CHECK_FALSE(r.succeeded());
    CHECK_FALSE(r.timed_out);
    CHECK(goro_test::contains(r.out, "runtime gone"));
    CHECK_FALSE(goro_test::contains(r.out, "no fatal error?"));
    CHECK(goro_test::contains(
        r.err, "goro: fatal error: a goro::timer or goro::ticker outlived the runtime"));
  }
}
