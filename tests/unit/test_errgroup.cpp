// goro::errgroup: the first failure (thrown or returned) cancels the group's
// context and is what wait() rethrows; set_limit bounds the members running
// at once; try_go; the destructor waits.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace goro_test;

/// Raises `most` to at least `value`.
void raise_to(std::atomic<int>& most, int value) {
  int seen = most.load();
  while (value > seen && !most.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

TEST_CASE("errgroup: every member runs; wait returns without error", "[errgroup]") {
  on_thread_and_goroutine([](failures& f) {
    std::atomic<int> sum{0};
    goro::errgroup g;
    for (int i = 1; i <= 100; ++i) g.go([&sum, i] { sum += i; });
    g.wait();
    f.expect(sum == 5050, "a member did not run");
    f.expect(!g.context().err(), "a group without context has a done context");
    f.expect(!g.wait_error(), "wait_error reports an error");
  });
}

TEST_CASE("errgroup: the first error cancels the siblings' context and wait() rethrows it",
          "[errgroup]") {
  on_thread_and_goroutine([](failures& f) {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    goro::errgroup g(parent);
    std::atomic<int> stopped_by_context{0};
    for (int i = 0; i < 8; ++i) {
      g.go([&stopped_by_context](const goro::context& ctx) {
        try {
          goro::sleep_for(ctx, 20s);  // only the group's cancellation ends this
        } catch (const goro::context_error& e) {
          if (e.code() == goro::context_errc::canceled) ++stopped_by_context;
          throw;  // a later failure: dropped
        }
      });
    }
    g.go([] {
      goro::sleep_for(5ms);
      throw std::runtime_error("first failure");
    });
    try {
      g.wait();
      f.add("wait() did not rethrow");
    } catch (const std::runtime_error& e) {
      f.expect(std::string(e.what()) == "first failure", "wrong error: " + std::string(e.what()));
    }
    f.expect(stopped_by_context == 8, "siblings were not cancelled");
    f.expect(g.context().err() == goro::context_errc::canceled, "group context not cancelled");
    f.expect(what_of(goro::cause(g.context())) == "first failure", "cause is not the error");
    f.expect(!parent.err(), "the failure cancelled the parent");
    f.expect(what_of(g.wait_error()) == "first failure", "a second wait differs");
  });
}

TEST_CASE("errgroup: returned errors count as failures; empty ones do not", "[errgroup]") {
  goro::errgroup g(goro::background());
  g.go([]() -> std::error_code { return {}; });
  g.go([]() -> std::exception_ptr { return nullptr; });
  g.wait();
  goro::errgroup h;
  h.go([]() -> std::error_code { return std::make_error_code(std::errc::timed_out); });
  try {
    h.wait();
    FAIL("no error");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::timed_out);
  }
  goro::errgroup k;
  k.go([]() -> std::exception_ptr {
    return std::make_exception_ptr(std::invalid_argument("bad input"));
  });
  CHECK_THROWS_AS(k.wait(), std::invalid_argument);
}

TEST_CASE("errgroup: wait() cancels the group's context when it returns", "[errgroup]") {
  goro::errgroup g(goro::background());
  goro::context ctx = g.context();
  g.go([] {});
  CHECK(!ctx.err());
  g.wait();
  CHECK(ctx.err() == goro::context_errc::canceled);
}

TEST_CASE("errgroup: set_limit(2) lets exactly two members run at once", "[errgroup][limit]") {
  on_thread_and_goroutine([](failures& f) {
    std::atomic<int> running{0}, peak{0};
    goro::errgroup g;
    g.set_limit(2);
    for (int i = 0; i < 20; ++i) {
      g.go([&] {
        raise_to(peak, running.fetch_add(1) + 1);
        // Hold the slot until two have overlapped once (bounded), so that the
        // peak is reached on any machine; then a little longer.
        eventually([&] { return peak.load() >= 2; }, 5s);
        goro::sleep_for(1ms);
        running.fetch_sub(1);
      });
    }
    g.wait();
    f.expect(peak == 2, "peak of running members " + std::to_string(peak.load()) + ", not 2");
  });
}

TEST_CASE("errgroup: try_go starts only when a slot is free; set_limit while running throws",
          "[errgroup][limit]") {
  goro::errgroup g;
  g.set_limit(1);
  auto release = goro::make_chan<int>();
  CHECK(g.try_go([release] { release.recv(); }));
  CHECK(!g.try_go([] {}));
  CHECK_THROWS_AS(g.set_limit(3), std::logic_error);
  release.close();
  g.wait();
  CHECK(g.try_go([] {}));
  g.wait();
  g.set_limit(-1);  // no limit
  for (int i = 0; i < 10; ++i) CHECK(g.try_go([] { goro::sleep_for(1ms); }));
  g.wait();
}

TEST_CASE("errgroup: the destructor waits for every member", "[errgroup]") {
  std::atomic<int> finished{0};
  {
    goro::errgroup g;
    for (int i = 0; i < 10; ++i) {
      g.go([&finished] {
        goro::sleep_for(5ms);
        ++finished;
      });
    }
    g.go([] { throw std::runtime_error("ignored by the destructor"); });
  }
  CHECK(finished == 10);
}

TEST_CASE("errgroup: members started from members, and a group inside a member", "[errgroup]") {
  goro::runtime rt(workers(2));
  std::atomic<int> leaves{0};
  std::exception_ptr seen;
  rt.go([&] {
    goro::errgroup outer;
    for (int i = 0; i < 4; ++i) {
      outer.go([&leaves, &outer, i] {
        outer.go([&leaves] { ++leaves; });
        goro::errgroup inner;
        inner.set_limit(2);
        for (int j = 0; j < 5; ++j) inner.go([&leaves] { ++leaves; });
        inner.wait();
        if (i == 3) throw std::runtime_error("member 3");
      });
    }
    seen = outer.wait_error();
  });
  rt.wait();
  CHECK(leaves == 24);
  CHECK(what_of(seen) == "member 3");
}
