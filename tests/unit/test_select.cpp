// select: which case is chosen, what it does to the channels, what wakes a
// blocked select, nil cases, one channel named in several cases, a select
// that must not match itself, fairness among ready cases, and select_set
// (a run-time number of cases).
//
// Catch2's assertions are not thread-safe: goroutines and threads record
// what they saw and the test thread checks it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using goro::case_default;
using goro::case_recv;
using goro::case_send;
using goro::op_status;

namespace {

using namespace goro_test;

goro::chan<int> closed_chan() {
  auto c = goro::make_chan<int>();
  c.close();
  return c;
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("select completes the one ready case and runs only its handler", "[select]") {
  auto a = goro::make_chan<int>(1);
  auto b = goro::make_chan<int>(1);
  b.send(5);
  int got = -1;
  bool a_ran = false;
  std::size_t i = goro::select(case_recv(a, [&](std::optional<int>) { a_ran = true; }),
                               case_recv(b, [&](std::optional<int> v) { got = v.value_or(-2); }));
  CHECK(i == 1);
  CHECK(got == 5);
  CHECK_FALSE(a_ran);
  CHECK(a.size() == 0);
  CHECK(b.size() == 0);

  SECTION("a send case") {
    auto full = goro::make_chan<int>(1);
    full.send(10);
    auto room = goro::make_chan<int>(1);
    int ran = 0;
    i = goro::select(case_send(full, 11, [&] { ran = 1; }), case_send(room, 12, [&] { ran = 2; }));
    CHECK(i == 1);
    CHECK(ran == 2);
    CHECK(full.recv() == std::optional<int>(10));  // untouched
    CHECK(full.size() == 0);
    CHECK(room.recv() == std::optional<int>(12));
  }

  SECTION("handlers may be omitted, or take nothing") {
    a.send(1);
    CHECK(goro::select(case_recv(b), case_recv(a)) == 1);
    CHECK(a.size() == 0);
    bool ran = false;
    a.send(2);
    CHECK(goro::select(case_recv(a, [&] { ran = true; })) == 0);
    CHECK(ran);
    CHECK(goro::select(case_send(a, 3)) == 0);
    CHECK(a.recv() == std::optional<int>(3));
  }

  SECTION("a handler may use the same channel: it runs after the locks are released") {
    auto c = goro::make_chan<int>(1);
    c.send(1);
    for (int k = 0; k < 3; ++k) {
      goro::select(case_recv(c, [&](std::optional<int> v) { c.send(*v + 1); }));
    }
    CHECK(c.recv() == std::optional<int>(4));
    goro::select(case_send(c, 7, [&] { got = *c.recv(); }));
    CHECK(got == 7);
  }

  SECTION("an exception from a handler leaves select, and the channel keeps working") {
    auto c = goro::make_chan<int>(2);
    c.send(1);
    c.send(2);
    REQUIRE_THROWS_AS(
        goro::select(case_recv(c, [](std::optional<int>) { throw std::runtime_error("handler"); })),
        std::runtime_error);
    CHECK(c.size() == 1);  // the case had completed: its value was taken
    CHECK(c.recv() == std::optional<int>(2));
  }

  SECTION("a move-only value is consumed only if its case is chosen") {
    auto c = goro::make_chan<std::unique_ptr<int>>(1);
    CHECK(goro::select(case_send(c, std::make_unique<int>(1)), case_default()) == 0);
    // Full now: the send case is not chosen and its value is simply dropped.
    CHECK(goro::select(case_send(c, std::make_unique<int>(2)), case_default()) == 1);
    std::unique_ptr<int> out;
    CHECK(goro::select(case_recv(
              c, [&](std::optional<std::unique_ptr<int>>&& v) { out = std::move(*v); })) == 0);
    REQUIRE(out != nullptr);
    CHECK(*out == 1);
  }
}

TEST_CASE("the default case is taken exactly when nothing is ready", "[select][default]") {
  auto empty = goro::make_chan<int>(1);
  auto full = goro::make_chan<int>(1);
  full.send(1);
  auto unbuffered = goro::make_chan<int>();
  bool ran = false;
  CHECK(goro::select(case_recv(empty), case_send(full, 2), case_recv(unbuffered),
                     case_send(unbuffered, 3), case_default([&] { ran = true; })) == 4);
  CHECK(ran);
  CHECK(empty.size() == 0);
  CHECK(full.size() == 1);
  CHECK(goro::select(case_default(), case_recv(empty)) == 0);
  CHECK(goro::select(case_default()) == 0);

  // A ready case always wins over the default, wherever the default is.
  auto closed = closed_chan();
  int defaults = 0;
  for (int k = 0; k < 1000; ++k) {
    defaults += goro::select(case_default(), case_recv(closed)) == 0;
    defaults += goro::select(case_recv(empty), case_recv(closed), case_default()) == 2;
  }
  CHECK(defaults == 0);
}

TEST_CASE("a blocked select is woken by a send, a receive, a close", "[select][blocking]") {
  on_thread_and_goroutine([](failures& f) {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>(1);
    std::thread helper;
    auto later = [&](auto fn) {
      helper = std::thread([fn] {
        std::this_thread::sleep_for(20ms);
        fn();
      });
    };

    // A receive case, woken by a sender.
    later([a] { a.send(7); });
    std::optional<int> got;
    std::size_t i = goro::select(case_recv(a, [&](std::optional<int> v) { got = v; }),
                                 case_recv(b, [&](std::optional<int>) { f.add("b ran"); }));
    helper.join();
    f.expect(i == 0 && got == std::optional<int>(7), "woken by a send");

    // A send case, woken by a receiver.
    std::optional<int> taken;
    later([a, &taken] { taken = a.recv(); });
    bool sent = false;
    i = goro::select(case_send(a, 8, [&] { sent = true; }), case_recv(b));
    helper.join();
    f.expect(i == 0 && sent && taken == std::optional<int>(8), "woken by a receive");

    // A receive case, woken by close: an empty optional.
    later([a] { a.close(); });
    got = 99;
    i = goro::select(case_recv(b), case_recv(a, [&](std::optional<int> v) { got = v; }));
    helper.join();
    f.expect(i == 1 && got == std::nullopt, "woken by close (recv case)");

    // A send case, woken by close: throws, like Go's panic.
    auto c = goro::make_chan<int>();
    later([c] { c.close(); });
    bool threw = false;
    try {
      goro::select(case_recv(b), case_send(c, 1, [&] { f.add("send handler ran"); }));
    } catch (const goro::closed_channel&) {
      threw = true;
    }
    helper.join();
    f.expect(threw, "woken by close (send case) did not throw");

    // Already closed: the receive case is ready at once; the send case throws at once.
    got = 99;
    i = goro::select(case_recv(c, [&](std::optional<int> v) { got = v; }));
    f.expect(i == 0 && got == std::nullopt, "recv case on a closed channel");
    threw = false;
    try {
      goro::select(case_send(c, 1), case_default());
    } catch (const goro::closed_channel&) {
      threw = true;
    }
    f.expect(threw, "send case on a closed channel, with a default, did not throw");
    f.expect(b.size() == 0, "b was touched");
  });
}

TEST_CASE("goro::after makes a select time out", "[select][time]") {
  on_thread_and_goroutine([](failures& f) {
    auto never = goro::make_chan<int>();
    const auto t0 = goro::clock::now();
    goro::clock::time_point fired{};
    const std::size_t i =
        goro::select(case_recv(never, [&](std::optional<int>) { f.add("never ran"); }),
                     case_recv(goro::after(30ms), [&](std::optional<goro::clock::time_point> t) {
                       fired = t.value_or(goro::clock::time_point{});
                     }));
    const auto took = goro::clock::now() - t0;
    f.expect(i == 1, "the timeout case was not chosen");
    f.expect(at_least(took, 30ms), "timed out early");
    f.expect(fired >= t0 + 30ms, "the time delivered is before the deadline");
    // A value that comes before the timeout wins.
    auto soon = goro::make_chan<int>(1);
    std::thread t([soon] {
      std::this_thread::sleep_for(10ms);
      soon.send(1);
    });
    goro::timer backstop(60s);
    f.expect(goro::select(case_recv(soon), case_recv(backstop.chan())) == 0, "value lost to timer");
    t.join();
  });
}

TEST_CASE("a nil channel's case is never ready", "[select][nil]") {
  goro::chan<int> nil;
  goro::recv_chan<int> nil_in;
  goro::send_chan<int> nil_out;
  CHECK(goro::select(case_recv(nil), case_send(nil, 1), case_recv(nil_in), case_send(nil_out, 2),
                     case_default()) == 4);
  const auto t0 = goro::clock::now();
  CHECK(goro::select(case_recv(nil), case_send(nil_out, 1), case_recv(goro::after(20ms))) == 2);
  CHECK(at_least(goro::clock::now() - t0, 20ms));
  // Among ready cases, nil ones are still never chosen.
  auto closed = closed_chan();
  int nil_chosen = 0;
  for (int k = 0; k < 2000; ++k) {
    const std::size_t i = goro::select(case_recv(nil), case_recv(closed), case_send(nil, 3));
    nil_chosen += i != 1;
  }
  CHECK(nil_chosen == 0);
  // Go's idiom: switch a case off by making its channel nil.
  auto data = goro::make_chan<int>(4);
  for (int v = 0; v < 4; ++v) data.send(v);
  goro::chan<int> source = data;
  int taken = 0;
  for (int k = 0; k < 10; ++k) {
    goro::select(case_recv(source,
                           [&](std::optional<int>) {
                             if (++taken == 2) source = goro::chan<int>();
                           }),
                 case_default());
  }
  CHECK(taken == 2);
  CHECK(data.size() == 2);
}

TEST_CASE("one channel in several cases", "[select][duplicate]") {
  SECTION("two receive cases: exactly one completes, and both get chosen") {
    auto c = goro::make_chan<int>(1);
    std::array<int, 2> chosen{};
    int handlers = 0;
    for (int k = 0; k < 2000; ++k) {
      c.send(k);
      int got = -1;
      const std::size_t i = goro::select(case_recv(c,
                                                   [&](std::optional<int> v) {
                                                     ++handlers;
                                                     got = *v;
                                                   }),
                                         case_recv(c, [&](std::optional<int> v) {
                                           ++handlers;
                                           got = *v;
                                         }));
      REQUIRE(i < 2);
      ++chosen[i];
      REQUIRE(got == k);
      REQUIRE(c.size() == 0);
    }
    CHECK(handlers == 2000);
    CHECK(chosen[0] > 500);
    CHECK(chosen[1] > 500);
  }

  SECTION("a send and a receive case on one buffered channel") {
    auto c = goro::make_chan<int>(2);
    // Empty: only the send can proceed.
    for (int k = 0; k < 50; ++k) {
      CHECK(goro::select(case_send(c, 1), case_recv(c)) == 0);
      CHECK(c.recv() == std::optional<int>(1));
    }
    // Full: only the receive can.
    c.send(1);
    c.send(2);
    for (int k = 0; k < 50; ++k) {
      std::optional<int> got;
      CHECK(goro::select(case_send(c, 3), case_recv(c, [&](std::optional<int> v) { got = v; })) ==
            1);
      CHECK(got == std::optional<int>(1));
      c.send(1);
      CHECK(c.recv() == std::optional<int>(2));
      c.send(2);
    }
    // Half full: both can, and each is taken sometimes.
    CHECK(c.recv() == std::optional<int>(1));
    std::array<int, 2> chosen{};
    for (int k = 0; k < 1000; ++k) {
      REQUIRE(c.size() == 1);
      const std::size_t i = goro::select(case_send(c, 2), case_recv(c));
      ++chosen[i];
      if (i == 0) {
        REQUIRE(c.size() == 2);
        c.recv();
      } else {
        REQUIRE(c.size() == 0);
        c.send(2);
      }
    }
    CHECK(chosen[0] > 250);
    CHECK(chosen[1] > 250);
  }

  SECTION("a blocked select with one channel in two cases may be woken through either") {
    // The other party comes only after the select has queued itself, so the
    // choice is made by the order of its waiters in the channel's queue:
    // that order must be random too (Go's TestPseudoRandomSend).
    constexpr int n = 100;
    auto c = goro::make_chan<int>();
    std::array<int, 2> sent_by{}, received_by{};
    {
      goro::runtime rt(workers(2));
      rt.go([c] {
        for (int k = 0; k < n; ++k) {
          goro::sleep_for(1ms);  // let the select block first
          (void)c.recv();
        }
      });
      for (int k = 0; k < n; ++k) ++sent_by[goro::select(case_send(c, 0), case_send(c, 1))];
      rt.go([c] {
        for (int k = 0; k < n; ++k) {
          goro::sleep_for(1ms);
          c.send(k);
        }
      });
      for (int k = 0; k < n; ++k) ++received_by[goro::select(case_recv(c), case_recv(c))];
    }
    INFO("send cases " << sent_by[0] << "/" << sent_by[1] << ", receive cases " << received_by[0]
                       << "/" << received_by[1]);
    CHECK(sent_by[0] > n / 10);
    CHECK(sent_by[1] > n / 10);
    CHECK(received_by[0] > n / 10);
    CHECK(received_by[1] > n / 10);
  }

  SECTION("a blocked select with one channel twice is woken once") {
    auto c = goro::make_chan<int>();
    auto other = goro::make_chan<int>();
    std::atomic<int> ran{0};
    failures f;
    {
      goro::runtime rt(workers(2));
      for (int k = 0; k < 20; ++k) {
        rt.go([&] {
          const std::size_t i =
              goro::select(case_recv(c, [&](std::optional<int>) { ++ran; }), case_recv(other),
                           case_recv(c, [&](std::optional<int>) { ++ran; }));
          f.expect(i == 0 || i == 2, "the wrong case completed");
        });
      }
      for (int k = 0; k < 20; ++k) c.send(k);
    }
    CHECK(ran.load() == 20);
    CHECK(f.take() == std::vector<std::string>{});
  }
}

TEST_CASE("a select never matches its own send with its own receive", "[select][self]") {
  on_thread_and_goroutine([](failures& f) {
    auto c = goro::make_chan<int>();
    for (int k = 0; k < 3; ++k) {
      const auto t0 = goro::clock::now();
      bool matched = false;
      const std::size_t i = goro::select(case_send(c, 1, [&] { matched = true; }),
                                         case_recv(c, [&](std::optional<int>) { matched = true; }),
                                         case_recv(goro::after(50ms)));
      f.expect(i == 2 && !matched, "the select matched itself");
      f.expect(at_least(goro::clock::now() - t0, 50ms), "returned before the timeout");
    }
    // Another party can still match either case.
    std::thread t([c] { c.send(5); });
    std::optional<int> got;
    const std::size_t i =
        goro::select(case_send(c, 1), case_recv(c, [&](std::optional<int> v) { got = v; }));
    t.join();
    f.expect(i == 1 && got == std::optional<int>(5), "another sender did not match the receive");
  });
}

TEST_CASE("among ready cases each is chosen about equally often", "[select][fairness]") {
  constexpr int kTrials = 30000;
  // Expected 10,000 each with a standard deviation of about 82: the bounds
  // are more than 12 deviations wide, yet catch a biased or fixed choice.
  auto in_bounds = [](const std::array<int, 3>& n) {
    for (int x : n) {
      if (x < 9000 || x > 11000) return false;
    }
    return true;
  };
  auto c0 = closed_chan(), c1 = closed_chan(), c2 = closed_chan();

  SECTION("three closed channels, from the test thread") {
    std::array<int, 3> n{};
    std::array<std::array<int, 3>, 3> pairs{};
    std::size_t prev = 0;
    for (int k = 0; k < kTrials; ++k) {
      const std::size_t i = goro::select(case_recv(c0), case_recv(c1), case_recv(c2));
      REQUIRE(i < 3);
      ++n[i];
      if (k > 0) ++pairs[prev][i];
      prev = i;
    }
    INFO(n[0] << " " << n[1] << " " << n[2]);
    CHECK(in_bounds(n));
    // Consecutive choices are independent too: each of the nine pairs near 1/9.
    for (auto& row : pairs) {
      for (int x : row) {
        CHECK(x > 2700);
        CHECK(x < 4000);
      }
    }
  }

  SECTION("send and receive cases, from a goroutine") {
    std::array<int, 3> n{};
    {
      goro::runtime rt(workers(2));
      rt.go([&] {
        auto out = goro::make_chan<int>(1);  // always room: drained after each select
        auto in = goro::make_chan<int>(1);
        for (int k = 0; k < kTrials; ++k) {
          (void)in.try_send(1);
          const std::size_t i =
              goro::select(case_recv(c0), case_send(out, 2), case_recv(in), case_default());
          if (i < 3) ++n[i];
          (void)out.try_recv();
        }
      });
    }
    INFO(n[0] << " " << n[1] << " " << n[2]);
    CHECK(in_bounds(n));
  }

  SECTION("a select_set") {
    goro::select_set s;
    s.add_recv(c0);
    s.add_recv(c1);
    s.add_recv(c2);
    std::array<int, 3> n{};
    for (int k = 0; k < kTrials; ++k) {
      const std::size_t i = s.select();
      REQUIRE(i < 3);
      ++n[i];
    }
    INFO(n[0] << " " << n[1] << " " << n[2]);
    CHECK(in_bounds(n));
  }
}

TEST_CASE("a blocked select never takes a value from a case it did not choose",
          "[select][exactly-once]") {
  // Two senders, one on each channel; one select takes one value, and the
  // other value must still be there for a plain receive.
  const int rounds = 300 / kScale;
  goro::runtime rt(workers(2));
  for (int r = 0; r < rounds; ++r) {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    rt.go([a, r] { a.send(2 * r); });
    std::thread tb([b, r] { b.send(2 * r + 1); });
    int got = -1;
    const std::size_t i = goro::select(case_recv(a, [&](std::optional<int> v) { got = *v; }),
                                       case_recv(b, [&](std::optional<int> v) { got = *v; }));
    if (i == 0) {
      CHECK(got == 2 * r);
      CHECK(b.recv() == std::optional<int>(2 * r + 1));
    } else {
      CHECK(got == 2 * r + 1);
      CHECK(a.recv() == std::optional<int>(2 * r));
    }
    tb.join();
  }
}

TEST_CASE("racing selects with send and receive cases complete exactly one case each",
          "[select][exactly-once]") {
  // Parties of two kinds select over (send on a, receive from b) or the
  // mirror image, plus a quit channel. Every value that a select reports as
  // sent must be received exactly once, and nothing else received.
  const std::size_t cap = GENERATE(0u, 3u);
  const int target = 20000 / kScale;
  auto a = goro::make_chan<std::int64_t>(cap);
  auto b = goro::make_chan<std::int64_t>(cap);
  auto quit = goro::make_chan<int>();
  std::atomic<int> exchanges{0};
  std::mutex m;
  std::vector<std::int64_t> sent_all, received_all;
  failures f;

  auto party = [&](int id, bool mirrored) {
    std::vector<std::int64_t> sent, received;
    std::int64_t next = static_cast<std::int64_t>(id) << 32;
    auto out = mirrored ? b : a;
    auto in = mirrored ? a : b;
    for (bool done = false; !done;) {
      int handlers = 0;
      const std::size_t i = goro::select(case_send(out, next, [&] { ++handlers; }),
                                         case_recv(in,
                                                   [&](std::optional<std::int64_t> v) {
                                                     ++handlers;
                                                     if (v) received.push_back(*v);
                                                   }),
                                         case_recv(quit, [&](std::optional<int>) { ++handlers; }));
      f.expect(handlers == 1, "a select ran " + std::to_string(handlers) + " handlers");
      if (i == 0) {
        sent.push_back(next++);
        ++exchanges;
      } else if (i == 2) {
        done = true;
      }
    }
    std::lock_guard<std::mutex> lock(m);
    sent_all.insert(sent_all.end(), sent.begin(), sent.end());
    received_all.insert(received_all.end(), received.begin(), received.end());
  };
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (int id = 0; id < 6; ++id) rt.go(party, id, id % 2 == 1);
    threads.emplace_back(party, 6, false);
    threads.emplace_back(party, 7, true);
    CHECK(eventually([&] { return exchanges.load() >= target; }, 120s));
    quit.close();
  }
  for (auto& t : threads) t.join();
  // Whatever is still buffered was sent but not received by a party.
  a.close();
  b.close();
  for (auto v : a) received_all.push_back(v);
  for (auto v : b) received_all.push_back(v);

  CHECK(f.take() == std::vector<std::string>{});
  absl::flat_hash_set<std::int64_t> sent_set(sent_all.begin(), sent_all.end());
  CHECK(sent_set.size() == sent_all.size());
  absl::flat_hash_set<std::int64_t> received_set;
  int duplicates = 0, unknown = 0;
  for (auto v : received_all) {
    duplicates += !received_set.insert(v).second;
    unknown += !sent_set.contains(v);
  }
  CHECK(duplicates == 0);
  CHECK(unknown == 0);
  CHECK(received_all.size() == sent_all.size());
}

TEST_CASE("select_set: fan-in over a vector of channels", "[select][select_set]") {
  constexpr int kChans = 16;
  const int per_chan = 1000 / kScale;
  std::vector<goro::chan<int>> chans;
  for (int k = 0; k < kChans; ++k) chans.push_back(goro::make_chan<int>(k % 3 == 0 ? 0 : 4));

  goro::select_set set;
  int open = kChans;
  std::vector<int> next(kChans, 0);  // the next value expected from each channel
  int out_of_order = 0, wrong_index = 0, total = 0;
  for (int k = 0; k < kChans; ++k) {
    const std::size_t idx = set.add_recv(
        chans[static_cast<std::size_t>(k)], [&, k](std::size_t index, std::optional<int> v) {
          wrong_index += index != static_cast<std::size_t>(k);
          if (!v) {
            set.disable(index);  // closed: switch the case off, as Go sets it to nil
            --open;
            return;
          }
          out_of_order += *v != next[index]++;
          ++total;
        });
    REQUIRE(idx == static_cast<std::size_t>(k));
  }
  CHECK(set.size() == static_cast<std::size_t>(kChans));

  goro::runtime rt(workers(2));
  std::vector<std::thread> threads;
  for (int k = 0; k < kChans; ++k) {
    auto produce = [c = chans[static_cast<std::size_t>(k)], per_chan] {
      for (int v = 0; v < per_chan; ++v) c.send(v);
      c.close();
    };
    if (k % 4 == 3) {
      threads.emplace_back(produce);
    } else {
      rt.go(produce);
    }
  }
  std::array<int, kChans> chosen{};
  bool bad_index = false;
  while (open > 0 && !bad_index) {
    const std::size_t i = set.select();
    bad_index = i >= static_cast<std::size_t>(kChans);
    if (!bad_index) ++chosen[i];
  }
  CHECK_FALSE(bad_index);
  for (auto& t : threads) t.join();
  CHECK(total == kChans * per_chan);
  CHECK(out_of_order == 0);
  CHECK(wrong_index == 0);
  for (int k = 0; k < kChans; ++k) {
    CHECK(chosen[static_cast<std::size_t>(k)] == per_chan + 1);  // each value, then the close
    CHECK_FALSE(set.enabled(static_cast<std::size_t>(k)));
  }
}

TEST_CASE("select_set: send cases, default, disable and enable", "[select][select_set]") {
  auto c = goro::make_chan<int>(2);
  auto in = goro::make_chan<int>(1);
  goro::select_set set;
  int sends = 0, defaults = 0;
  std::optional<int> got;
  const std::size_t s = set.add_send(c, 1, [&] { ++sends; });
  const std::size_t r = set.add_recv(in, [&](std::optional<int> v) { got = v; });
  CHECK(s == 0);
  CHECK(r == 1);
  set.set_default([&] { ++defaults; });

  CHECK(set.select() == s);  // room in c, nothing in `in`
  CHECK(sends == 1);
  CHECK(c.size() == 1);
  CHECK_FALSE(set.enabled(s));                         // sent once: off until re-armed
  REQUIRE_THROWS_AS(set.enable(s), std::logic_error);  // nothing left to send
  CHECK_FALSE(set.enabled(s));
  CHECK(set.select() == goro::select_set::default_index);
  CHECK(defaults == 1);
  CHECK(c.size() == 1);

  set.rearm_send<int>(s, 2);
  CHECK(set.enabled(s));
  CHECK(set.select() == s);
  CHECK(c.recv() == std::optional<int>(1));
  CHECK(c.recv() == std::optional<int>(2));
  REQUIRE_THROWS_AS(set.rearm_send<long>(s, 3L), std::invalid_argument);
  REQUIRE_THROWS_AS(set.rearm_send<int>(r, 3), std::invalid_argument);

  in.send(9);
  set.disable(r);
  CHECK(set.select() == goro::select_set::default_index);  // r is off, s sent already
  CHECK(in.size() == 1);
  set.enable(r);
  CHECK(set.select() == r);
  CHECK(got == std::optional<int>(9));

  SECTION("a send case on a full channel waits; a closed one throws") {
    c.send(1);
    c.send(2);
    set.rearm_send<int>(s, 3);
    CHECK(set.select() == goro::select_set::default_index);
    CHECK(set.enabled(s));  // not sent: still armed
    c.close();
    REQUIRE_THROWS_AS(set.select(), goro::closed_channel);
  }

  SECTION("move-only values") {
    auto p = goro::make_chan<std::unique_ptr<int>>(1);
    goro::select_set ps;
    const std::size_t k = ps.add_send(p, std::make_unique<int>(4));
    CHECK(ps.select() == k);
    ps.rearm_send<std::unique_ptr<int>>(k, std::make_unique<int>(5));
    ps.set_default();
    CHECK(ps.select() == goro::select_set::default_index);  // full
    auto v = p.recv();
    REQUIRE(v.has_value());
    CHECK(**v == 4);
    CHECK(ps.select() == k);
    CHECK(**p.recv() == 5);
  }

  SECTION("blocking, woken by another party") {
    goro::select_set w;
    auto u = goro::make_chan<int>();
    auto u2 = goro::make_chan<int>();
    std::optional<int> value;
    w.add_recv(u, [&](std::optional<int> v) { value = v; });
    const std::size_t sidx = w.add_send(u2, 77);
    goro::runtime rt(workers(2));
    rt.go([u] {
      goro::sleep_for(10ms);
      u.send(42);
    });
    CHECK(w.select() == 0);
    CHECK(value == std::optional<int>(42));
    std::optional<int> taken;
    std::thread t([&] { taken = u2.recv(); });
    CHECK(w.select() == sidx);
    t.join();
    CHECK(taken == std::optional<int>(77));
  }

  SECTION("an empty set with a default") {
    goro::select_set e;
    bool ran = false;
    e.set_default([&] { ran = true; });
    CHECK(e.size() == 0);
    CHECK(e.select() == goro::select_set::default_index);
    CHECK(ran);
  }
}

TEST_CASE("select_set keeps the channels of its cases alive", "[select][select_set]") {
  // A set is built once and used many times, and channels are shared
  // handles: a case must hold its channel, as Go's reflect.Select does,
  // rather than point at state that the last handle's owner has freed.
  goro::select_set set;
  std::optional<int> got;
  goro::send_chan<int> out;
  {
    auto c = goro::make_chan<int>(1);
    c.send(5);
    set.add_recv(c, [&](std::optional<int> v) { got = v; });
    auto d = goro::make_chan<int>(1);
    out = d;
    set.add_send(d, 6);
  }
  // Only the set (and `out`, a view of the second) still refer to the channels.
  CHECK(set.select() < 2);
  CHECK(set.select() < 2);
  CHECK(got == std::optional<int>(5));
  out.close();  // the send case already sent: the buffered 6 is still there
}
