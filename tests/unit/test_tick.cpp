// goro::tick, Go's time.Tick: ticks for the life of the runtime, from a
// ticker nobody holds; a non-positive period gives a nil channel.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <chrono>

using namespace std::chrono_literals;

TEST_CASE("tick: the channel keeps receiving with no ticker held") {
  auto ticks = goro::tick(1ms);
  REQUIRE(ticks);
  auto prev = goro::clock::now() - 1h;
  for (int i = 0; i < 3; ++i) {
    auto r = ticks.recv_for(30s);  // generous: a loaded machine may be slow, never this slow
    REQUIRE(r.status == goro::op_status::ok);
    CHECK(*r.value > prev);
    prev = *r.value;
  }
}

TEST_CASE("tick: from a goroutine, on its runtime") {
  goro::runtime_options o;
  o.workers = 1;
  auto rt = std::make_unique<goro::runtime>(o);
  auto got = goro::make_chan<int>(1);
  rt->go([got] {
    auto ticks = goro::tick(std::chrono::microseconds(500));
    int n = 0;
    for (int i = 0; i < 3; ++i)
      if (ticks.recv_for(30s)) ++n;
    got.send(n);
  });
  CHECK(got.recv() == 3);
  rt.reset();  // the runtime ends: the leaked ticker is dropped with its heap (ASan checks no leak)
}

TEST_CASE("tick: a period that is not positive gives a nil channel") {
  CHECK_FALSE(goro::tick(0ms));
  CHECK_FALSE(goro::tick(-1s));
  CHECK_FALSE(goro::tick(std::chrono::hours::min()));
  CHECK(goro::tick(0ms).try_recv().status == goro::op_status::empty);
}
