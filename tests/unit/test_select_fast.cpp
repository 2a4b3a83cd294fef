// select's fast path (select_core.hpp): a case that looks ready without the
// lock but cannot complete once locked, close racing the peek, and default
// selects that race each other for the same values; for the variadic select
// and for select_set.
//
// Catch2's assertions are not thread-safe: goroutines and threads record
// what they saw and the test thread checks it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using goro::case_default;
using goro::case_recv;
using goro::case_send;

namespace {

using namespace goro_test;

/// Receives from `in` and `other` with a default, by a variadic select or a
/// select_set; returns 0 or 1 for the case taken (its value, or an empty
/// optional for a close, in *got), 2 for the default.
std::size_t select_two_or_default(bool use_set, const goro::chan<int>& in,
                                  const goro::chan<int>& other, std::optional<int>* got) {
  auto take = [got](std::optional<int> v) { *got = v; };
  if (!use_set) {
    return goro::select(case_recv(in, take), case_recv(other, take), case_default());
  }
  goro::select_set s;
  s.add_recv(in, take);
  s.add_recv(other, take);
  s.set_default();
  const std::size_t i = s.select();
  return i == goro::select_set::default_index ? 2 : i;
}

}  // namespace

TEST_CASE("a case that looks ready but cannot complete is passed over", "[select][fast]") {
  // A select G waits to send on x and on y (both unbuffered); a receive on y
  // claims G's wait, and until G runs again its waiter on x stays linked:
  // x looks ready to a peek (a sender waits), yet nobody can be claimed. One
  // worker, so G cannot run before the selects below are done.
  const bool use_set = GENERATE(false, true);
  INFO((use_set ? "select_set" : "variadic select"));
  const int rounds = 200 / kScale;
  failures f;
  std::atomic<int> g_chose_y{0};
  {
    goro::runtime rt(workers(1));
    rt.go([&] {
      for (int r = 0; r < rounds; ++r) {
        auto x = goro::make_chan<int>();
        auto y = goro::make_chan<int>();
        auto z = goro::make_chan<int>(1);
        goro::go([x, y, r, &g_chose_y] {
          if (goro::select(case_send(x, -1), case_send(y, r)) == 1) ++g_chose_y;
        });
        for (int k = 0; k < 1000 && !x.core()->sendq.maybe_waiting(); ++k) goro::yield();
        if (y.recv() != std::optional<int>(r)) f.add("y did not get G's value");
        // The edge case's precondition: x looks ready, though G is claimed.
        if (!x.core()->sendq.maybe_waiting()) f.add("x does not look ready");

        // Nothing else ready: the default, not x.
        std::optional<int> got;
        if (select_two_or_default(use_set, x, goro::chan<int>(), &got) != 2 || got) {
          f.add("a claimed waiter was taken for a ready sender");
        }
        // z ready too: whichever of x and z is tried first, z completes.
        z.send(r);
        got.reset();
        if (select_two_or_default(use_set, x, z, &got) != 1 || got != std::optional<int>(r)) {
          f.add("z was not chosen with its value in round " + std::to_string(r));
        }
        goro::yield();  // G runs, unlinks its waiter from x and ends
        if (x.try_recv()) f.add("x had a sender after G ended");
      }
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
  CHECK(g_chose_y.load() == rounds);
}

TEST_CASE("close racing selects: a value or the close, each exactly once", "[select][fast]") {
  const bool use_set = GENERATE(false, true);
  INFO((use_set ? "select_set" : "variadic select"));
  const int values = 20000 / kScale;

  SECTION("receive cases with a default") {
    // Parties spin on (recv c, recv never, default) while a producer fills c
    // and closes it: every value is received once, and every party sees the
    // close (it keeps spinning otherwise: the test would time out).
    auto c = goro::make_chan<int>(4);
    auto never = goro::make_chan<int>();
    std::mutex m;
    std::vector<int> received;
    std::atomic<int> saw_close{0};
    failures f;
    auto party = [&] {
      std::vector<int> mine;
      for (;;) {
        std::optional<int> got;
        const std::size_t i = select_two_or_default(use_set, c, never, &got);
        if (i == 2) {
          goro::yield();
          continue;
        }
        if (i != 0) f.add("the never-ready case was chosen");
        if (!got) break;
        mine.push_back(*got);
      }
      ++saw_close;
      std::lock_guard<std::mutex> lock(m);
      received.insert(received.end(), mine.begin(), mine.end());
    };
    std::thread t(party);
    {
      goro::runtime rt(workers(2));
      rt.go(party);
      rt.go(party);
      rt.go([&] {
        for (int v = 0; v < values; ++v) c.send(v);
        c.close();
      });
    }
    t.join();
    CHECK(f.take() == std::vector<std::string>{});
    CHECK(saw_close.load() == 3);
    std::sort(received.begin(), received.end());
    REQUIRE(received.size() == static_cast<std::size_t>(values));
    for (int v = 0; v < values; ++v) REQUIRE(received[static_cast<std::size_t>(v)] == v);
  }

  SECTION("send cases: sent and received, or closed_channel") {
    // Senders race a close: a send that completed must be received (by the
    // consumer or the final drain), and every sender ends with closed_channel.
    auto c = goro::make_chan<int>(2);
    auto never = goro::make_chan<int>();
    std::mutex m;
    std::vector<int> sent_all, received_all;
    std::atomic<int> threw{0};
    auto sender = [&](int id) {
      std::vector<int> sent;
      int next = id << 24;
      try {
        for (;;) {
          std::size_t i = 0;
          if (use_set) {
            goro::select_set s;
            s.add_send(c, next);
            s.add_recv(never);
            i = s.select();
          } else {
            i = goro::select(case_send(c, next), case_recv(never));
          }
          if (i == 0) sent.push_back(next++);
        }
      } catch (const goro::closed_channel&) {
        ++threw;
      }
      std::lock_guard<std::mutex> lock(m);
      sent_all.insert(sent_all.end(), sent.begin(), sent.end());
    };
    std::thread t(sender, 3);
    {
      goro::runtime rt(workers(2));
      for (int id = 0; id < 3; ++id) rt.go(sender, id);
      rt.go([&] {
        std::vector<int> got;
        for (int k = 0; k < values; ++k) got.push_back(*c.recv());
        c.close();
        std::lock_guard<std::mutex> lock(m);
        received_all.insert(received_all.end(), got.begin(), got.end());
      });
    }
    t.join();
    for (int v : c) received_all.push_back(v);  // what was buffered at the close
    CHECK(threw.load() == 4);
    std::sort(sent_all.begin(), sent_all.end());
    std::sort(received_all.begin(), received_all.end());
    CHECK(sent_all == received_all);
  }
}

TEST_CASE("default selects racing for the same values take each exactly once", "[select][fast]") {
  // Producers feed a and b; parties poll both with a default until both are
  // closed (a closed case is switched off, by a nil channel or disable()).
  const bool use_set = GENERATE(false, true);
  INFO((use_set ? "select_set" : "variadic select"));
  const int per_producer = 10000 / kScale;
  auto a = goro::make_chan<int>(1);
  auto b = goro::make_chan<int>(3);
  std::mutex m;
  std::vector<int> received;
  failures f;
  auto party = [&] {
    std::vector<int> mine;
    goro::chan<int> ins[2] = {a, b};
    int open = 2;
    std::optional<int> got;
    auto take = [&](std::optional<int> v) { got = v; };
    while (open > 0) {
      got.reset();
      const std::size_t i =
          goro::select(case_recv(ins[0], take), case_recv(ins[1], take), case_default());
      if (i == 2) {
        goro::yield();
        continue;
      }
      if (i > 2) f.add("no such case");
      if (got) {
        mine.push_back(*got);
      } else {
        ins[i] = goro::chan<int>();  // closed: never ready again
        --open;
      }
    }
    std::lock_guard<std::mutex> lock(m);
    received.insert(received.end(), mine.begin(), mine.end());
  };
  // The select_set variant keeps its cases across calls; a closed case is
  // disabled by its handler.
  auto set_party = [&] {
    std::vector<int> mine;
    goro::select_set s;
    int open = 2;
    auto on = [&](std::size_t index, std::optional<int> v) {
      if (v) {
        mine.push_back(*v);
      } else {
        s.disable(index);
        --open;
      }
    };
    s.add_recv(a, on);
    s.add_recv(b, on);
    s.set_default([] { goro::yield(); });
    while (open > 0) s.select();
    std::lock_guard<std::mutex> lock(m);
    received.insert(received.end(), mine.begin(), mine.end());
  };
  std::thread t([&] { use_set ? set_party() : party(); });
  {
    goro::runtime rt(workers(2));
    for (int k = 0; k < 3; ++k) {
      if (use_set) {
        rt.go(set_party);
      } else {
        rt.go(party);
      }
    }
    auto produce = [per_producer](goro::chan<int> out, int base) {
      for (int v = 0; v < per_producer; ++v) out.send(base + v);
      out.close();
    };
    rt.go(produce, a, 0);
    rt.go(produce, b, 1 << 24);
  }
  t.join();
  CHECK(f.take() == std::vector<std::string>{});
  std::vector<int> want;
  for (int v = 0; v < per_producer; ++v) {
    want.push_back(v);
    want.push_back((1 << 24) + v);
  }
  std::sort(want.begin(), want.end());
  std::sort(received.begin(), received.end());
  CHECK(received == want);
}
