// Durations and deadlines of every shape: 32-bit counts, floating point,
// periods finer than a nanosecond, huge positive and negative values,
// time_point::min() and max() of any clock. Each must saturate: a past
// deadline returns at once, a huge one waits "forever", nothing wraps around.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using std::chrono::duration;
using std::chrono::steady_clock;
using std::chrono::system_clock;

namespace {

using ms32 = duration<std::int32_t, std::milli>;

/// Runs f on a plain thread; true if it returned within `limit`. A call that
/// hangs is abandoned (detached, still blocked), so the test fails instead of
/// hanging; f must own what it uses.
bool finishes_within(std::function<void()> f,
                     std::chrono::seconds limit = std::chrono::seconds(10)) {
  struct shared {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
  };
  auto s = std::make_shared<shared>();
  std::thread t([s, f = std::move(f)] {
    f();
    std::lock_guard<std::mutex> lock(s->m);
    s->done = true;
    s->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(s->m);
  const bool ok = s->cv.wait_for(lock, limit, [&] { return s->done; });
  lock.unlock();
  if (ok)
    t.join();
  else
    t.detach();
  return ok;
}

steady_clock::time_point at(std::int64_t ns) {
  return steady_clock::time_point(steady_clock::duration(ns));
}

}  // namespace

TEST_CASE("durations: deadline_after saturates for any representation and any clock value") {
  using goro::detail::deadline_after;
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  // Clock values that break a naive conversion somewhere (the 32-bit count of
  // "max - now" in milliseconds wraps to a small or negative number).
  for (std::int64_t now_ns :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{1'000'000'000},
        std::int64_t{123'456'789'012'345}, std::int64_t{4'294'967'296'000'000},
        std::int64_t{9'000'000'000'000'000'000}, max / 2 - 1'000'000}) {
    const auto now = at(now_ns);
    INFO("now = " << now_ns << " ns");
    // A 32-bit millisecond count: exactly now + d whenever that is representable.
    const auto d = deadline_after(now, ms32(50));
    if (now_ns < max / 2 - 50'000'000) {
      CHECK(d == now + 50ms);
    } else {
      CHECK(d == steady_clock::time_point::max());
    }
    CHECK(deadline_after(now, ms32(std::numeric_limits<std::int32_t>::max())) >= now);
    // Negative, huge, min: past deadlines, never before the epoch.
    CHECK(deadline_after(now, ms32(-1)) <= now);
    CHECK(deadline_after(now, ms32(std::numeric_limits<std::int32_t>::min())) <= now);
    CHECK(deadline_after(now, std::chrono::nanoseconds::min()) == steady_clock::time_point());
    CHECK(deadline_after(now, std::chrono::hours::min()) == steady_clock::time_point());
    CHECK(deadline_after(now, duration<std::int64_t, std::ratio<3600 * 24 * 365>>::min()) ==
          steady_clock::time_point());
    // Huge: never.
    CHECK(deadline_after(now, std::chrono::hours::max()) == steady_clock::time_point::max());
    CHECK(deadline_after(now, std::chrono::nanoseconds::max()) == steady_clock::time_point::max());
    CHECK(deadline_after(now, duration<double>(1e300)) == steady_clock::time_point::max());
    CHECK(deadline_after(now, duration<double>(std::numeric_limits<double>::infinity())) ==
          steady_clock::time_point::max());
    CHECK(deadline_after(now, duration<double>(-std::numeric_limits<double>::infinity())) ==
          steady_clock::time_point());
    CHECK(deadline_after(now, duration<std::uint64_t, std::milli>(
                                  std::numeric_limits<std::uint64_t>::max())) ==
          steady_clock::time_point::max());
    // NaN is no time at all; a period finer than a nanosecond truncates.
    if (now_ns < max / 2 - 1'000'000'000) {
      CHECK(deadline_after(now, duration<double>(std::nan(""))) == now);
      CHECK(deadline_after(now, duration<std::int64_t, std::pico>(1500)) == now + 1ns);
    }
    // A ratio whose duration_cast multiplies before dividing (1/3 s).
    CHECK(deadline_after(now, duration<std::int64_t, std::ratio<1, 3>>(3)) ==
          (now_ns < max / 2 - 1'000'000'000 ? now + 1s : steady_clock::time_point::max()));
    CHECK(deadline_after(now, duration<std::int64_t, std::ratio<1, 3>>(
                                  std::numeric_limits<std::int64_t>::max())) ==
          steady_clock::time_point::max());
  }
}

TEST_CASE("durations: time points of any clock saturate") {
  using goro::detail::to_steady;
  CHECK(to_steady(steady_clock::time_point::min()) == steady_clock::time_point());
  CHECK(to_steady(steady_clock::time_point::max()) == steady_clock::time_point::max());
  CHECK(to_steady(std::chrono::time_point<steady_clock, std::chrono::hours>::max()) ==
        steady_clock::time_point::max());
  CHECK(to_steady(std::chrono::time_point<steady_clock, std::chrono::hours>::min()) ==
        steady_clock::time_point());
  CHECK(to_steady(system_clock::time_point::min()) <= steady_clock::now());
  CHECK(to_steady(system_clock::time_point::max()) == steady_clock::time_point::max());
  // 2^31 ms after 1970 is long past.
  CHECK(to_steady(std::chrono::time_point<system_clock, ms32>::max()) <= steady_clock::now());
  CHECK(to_steady(std::chrono::time_point<system_clock, ms32>::min()) <= steady_clock::now());
  const auto soon = to_steady(system_clock::now() + 1h);
  CHECK(soon > steady_clock::now() + 50min);
  CHECK(soon < steady_clock::now() + 70min);
}

TEST_CASE(
    "durations: waits with a 32-bit duration, a far past or a far future deadline return when they "
    "should") {
  auto c = goro::make_chan<int>();
  auto full = goro::make_chan<int>(1);
  full.send(1);
  // Past: return at once with timeout (these used to wrap into "forever").
  CHECK(finishes_within([c] { CHECK(c.recv_for(ms32(20)).status == goro::op_status::timeout); }));
  CHECK(finishes_within([c] {
    CHECK(c.recv_for(std::chrono::nanoseconds::min()).status == goro::op_status::timeout);
  }));
  CHECK(finishes_within(
      [c] { CHECK(c.recv_for(std::chrono::hours::min()).status == goro::op_status::timeout); }));
  CHECK(finishes_within([c] {
    CHECK(c.recv_until(steady_clock::time_point::min()).status == goro::op_status::timeout);
  }));
  CHECK(finishes_within([c] {
    CHECK(c.recv_until(system_clock::time_point::min()).status == goro::op_status::timeout);
  }));
  CHECK(finishes_within([full] { CHECK(full.send_for(2, ms32(20)) == goro::op_status::timeout); }));
  CHECK(finishes_within([full] {
    CHECK(full.send_for(2, std::chrono::seconds::min()) == goro::op_status::timeout);
  }));
  CHECK(finishes_within([] { goro::sleep_for(ms32(5)); }));
  CHECK(finishes_within([] { goro::sleep_for(std::chrono::hours::min()); }));
  CHECK(finishes_within([] { goro::sleep_until(system_clock::time_point::min()); }));
  CHECK(finishes_within([] { goro::after(ms32(5)).recv(); }));
  CHECK(finishes_within([] { goro::after(std::chrono::hours::min()).recv(); }));
  CHECK(finishes_within([] {
    goro::timer t(ms32(5));
    t.chan().recv();
  }));
  // In a goroutine too (the timer heap path).
  CHECK(finishes_within([c] {
    auto done = goro::make_chan<int>(1);
    goro::go([c, done] {
      CHECK(c.recv_for(ms32(10)).status == goro::op_status::timeout);
      CHECK(c.recv_for(std::chrono::hours::min()).status == goro::op_status::timeout);
      goro::sleep_for(ms32(1));
      done.send(1);
    });
    done.recv();
  }));
  // Far future: waits for the value instead of timing out at once (a far
  // deadline in hours used to wrap negative).
  auto v = goro::make_chan<int>();
  std::thread sender([v] {
    std::this_thread::sleep_for(20ms);
    v.send(7);
  });
  auto r = v.recv_until(std::chrono::time_point<steady_clock, std::chrono::hours>::max());
  sender.join();
  CHECK(r.status == goro::op_status::ok);
}

TEST_CASE(
    "durations: a ticker with a huge period never ticks; one finer than a nanosecond keeps "
    "ticking") {
  {
    goro::ticker t(std::chrono::hours::max());
    std::this_thread::sleep_for(50ms);
    CHECK(t.chan().try_recv().status == goro::op_status::empty);
  }
  {
    goro::ticker t{
        duration<std::int64_t, std::ratio<1, 3>>(std::numeric_limits<std::int64_t>::max())};
    std::this_thread::sleep_for(20ms);
    CHECK(t.chan().try_recv().status == goro::op_status::empty);
  }
  {
    goro::ticker t(duration<std::int64_t, std::pico>(100));
    CHECK(finishes_within([ch = t.chan()] {
      for (int i = 0; i < 3; ++i) ch.recv();
    }));
  }
  {
    goro::ticker t(duration<double, std::nano>(0.25));
    CHECK(finishes_within([ch = t.chan()] {
      for (int i = 0; i < 3; ++i) ch.recv();
    }));
  }
  CHECK_THROWS_AS(goro::ticker(duration<double>(std::nan(""))), std::invalid_argument);
  CHECK_THROWS_AS(goro::ticker(ms32(0)), std::invalid_argument);
  CHECK_THROWS_AS(goro::ticker(ms32(std::numeric_limits<std::int32_t>::min())),
                  std::invalid_argument);
}
