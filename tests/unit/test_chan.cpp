// Channels on their own: nil, unbuffered and buffered channels, the
// non-blocking and bounded operations, close, range, element types that are
// move-only, large or not default-constructible, handle and view semantics,
// and every operation used from goroutines, plain threads and main at once.
//
// Catch2's assertions are not thread-safe: goroutines and threads record
// what they saw (atomics, a `failures` log) and the test thread checks it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

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
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using goro::op_status;

namespace {

using namespace goro_test;

/// Counts live instances, copies and moves of itself.
struct counted {
  static std::atomic<int> live;
  static std::atomic<int> copies;
  int v;
  explicit counted(int x) : v(x) { ++live; }
  counted(const counted& o) : v(o.v) {
    ++live;
    ++copies;
  }
  counted(counted&& o) noexcept : v(o.v) { ++live; }
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() { --live; }
};
std::atomic<int> counted::live{0};
std::atomic<int> counted::copies{0};

/// No default constructor, not assignable.
struct no_default {
  explicit no_default(int x) : v(x) {}
  no_default(const no_default&) = default;
  no_default(no_default&&) = default;
  no_default& operator=(const no_default&) = delete;
  int v;
};

// ---- compile-time shape of the handle types ----

template <class C, class = void>
struct can_send : std::false_type {};
template <class C>
struct can_send<C, std::void_t<decltype(std::declval<const C&>().send(1))>> : std::true_type {};
template <class C, class = void>
struct can_recv : std::false_type {};
template <class C>
struct can_recv<C, std::void_t<decltype(std::declval<const C&>().recv())>> : std::true_type {};
template <class C, class = void>
struct can_close : std::false_type {};
template <class C>
struct can_close<C, std::void_t<decltype(std::declval<const C&>().close())>> : std::true_type {};
template <class C, class = void>
struct can_range : std::false_type {};
template <class C>
struct can_range<C, std::void_t<decltype(std::declval<const C&>().begin())>> : std::true_type {};

static_assert(can_send<goro::chan<int>>::value && can_recv<goro::chan<int>>::value &&
              can_close<goro::chan<int>>::value && can_range<goro::chan<int>>::value);
static_assert(can_send<goro::send_chan<int>>::value && can_close<goro::send_chan<int>>::value);
static_assert(!can_recv<goro::send_chan<int>>::value && !can_range<goro::send_chan<int>>::value);
static_assert(can_recv<goro::recv_chan<int>>::value && can_range<goro::recv_chan<int>>::value);
static_assert(!can_send<goro::recv_chan<int>>::value && !can_close<goro::recv_chan<int>>::value);
static_assert(std::is_convertible_v<goro::chan<int>, goro::send_chan<int>>);
static_assert(std::is_convertible_v<goro::chan<int>, goro::recv_chan<int>>);
static_assert(!std::is_convertible_v<goro::recv_chan<int>, goro::chan<int>>);
static_assert(!std::is_convertible_v<goro::send_chan<int>, goro::chan<int>>);
static_assert(!std::is_convertible_v<goro::send_chan<int>, goro::recv_chan<int>>);
static_assert(!std::is_convertible_v<goro::recv_chan<int>, goro::send_chan<int>>);
static_assert(!std::is_convertible_v<goro::chan<long>, goro::chan<int>>);
static_assert(std::is_copy_constructible_v<goro::chan<std::unique_ptr<int>>>);
static_assert(std::is_nothrow_default_constructible_v<goro::chan<int>>);

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("a nil channel is never ready", "[chan][nil]") {
  goro::chan<int> nil;
  REQUIRE_FALSE(nil);
  CHECK(nil.size() == 0);
  CHECK(nil.capacity() == 0);
  CHECK(nil.try_send(1) == op_status::full);
  const auto r = nil.try_recv();
  CHECK(r.status == op_status::empty);
  CHECK_FALSE(r);
  CHECK_FALSE(r.value.has_value());

  auto t0 = goro::clock::now();
  CHECK(nil.recv_for(20ms).status == op_status::timeout);
  CHECK(at_least(goro::clock::now() - t0, 20ms));
  t0 = goro::clock::now();
  CHECK(nil.send_for(1, 20ms) == op_status::timeout);
  CHECK(at_least(goro::clock::now() - t0, 20ms));
  CHECK(nil.recv_until(goro::clock::now() + 5ms).status == op_status::timeout);
  CHECK(nil.send_until(1, std::chrono::system_clock::now() + 5ms) == op_status::timeout);

  REQUIRE_THROWS_AS(nil.close(), goro::nil_channel);
  REQUIRE_THROWS_AS(goro::send_chan<int>().close(), goro::nil_channel);

  SECTION("from a goroutine too, without holding up its worker") {
    failures f;
    std::atomic<int> other_ran{0};
    {
      goro::runtime rt(workers(1));
      rt.go([&] {
        goro::go([&] { ++other_ran; });
        const auto start = goro::clock::now();
        f.expect(nil.recv_for(30ms).status == op_status::timeout, "recv_for on nil: not timeout");
        f.expect(at_least(goro::clock::now() - start, 30ms), "recv_for on nil returned early");
        f.expect(nil.send_for(2, 5ms) == op_status::timeout, "send_for on nil: not timeout");
        f.expect(other_ran.load() == 1, "the other goroutine did not run while we waited");
      });
    }
    CHECK(f.take() == std::vector<std::string>{});
  }
}

TEST_CASE("an unbuffered send completes only when a receiver takes the value", "[chan]") {
  auto c = goro::make_chan<int>();
  CHECK(c.capacity() == 0);
  CHECK(c.size() == 0);
  CHECK(c.try_send(1) == op_status::full);  // nobody receiving
  CHECK(c.try_recv().status == op_status::empty);

  SECTION("goroutine sends, main receives") {
    std::atomic<bool> sent{false};
    goro::runtime rt(workers(2));
    rt.go([&] {
      c.send(42);
      sent = true;
    });
    goro::sleep_for(30ms);
    CHECK_FALSE(sent.load());  // nobody has received: still blocked
    CHECK(c.size() == 0);
    CHECK(c.recv() == std::optional<int>(42));
    CHECK(eventually([&] { return sent.load(); }));
  }

  SECTION("thread receives, goroutine sends") {
    std::atomic<bool> received{false};
    std::optional<int> got;
    std::thread t([&] {
      got = c.recv();
      received = true;
    });
    goro::sleep_for(30ms);
    CHECK_FALSE(received.load());
    {
      goro::runtime rt(workers(2));
      rt.go([&] { c.send(7); });
    }
    t.join();
    CHECK(got == std::optional<int>(7));
  }

  SECTION("try_send succeeds once a receiver waits") {
    std::optional<int> got;
    std::thread t([&] { got = c.recv(); });
    CHECK(eventually([&] { return c.try_send(5) == op_status::ok; }));
    t.join();
    CHECK(got == std::optional<int>(5));
  }

  SECTION("try_recv succeeds once a sender waits") {
    std::thread t([&] { c.send(6); });
    std::optional<int> got;
    CHECK(eventually([&] {
      auto r = c.try_recv();
      if (r) got = r.value;
      return r.status == op_status::ok;
    }));
    t.join();
    CHECK(got == std::optional<int>(6));
  }
}

TEST_CASE("a buffered channel is FIFO and reports size and capacity", "[chan]") {
  auto c = goro::make_chan<int>(10);
  CHECK(c);
  CHECK(c.capacity() == 10);
  CHECK(c.size() == 0);
  for (int i = 0; i < 10; ++i) {
    CHECK(c.size() == static_cast<std::size_t>(i));
    c.send(i);
  }
  CHECK(c.size() == 10);
  CHECK(c.try_send(99) == op_status::full);
  CHECK(c.size() == 10);
  for (int i = 0; i < 10; ++i) {
    auto v = c.recv();
    REQUIRE(v.has_value());
    CHECK(*v == i);
    CHECK(c.size() == static_cast<std::size_t>(9 - i));
  }
  CHECK(c.try_recv().status == op_status::empty);

  SECTION("the ring wraps around and keeps order") {
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 100; ++round) {
      for (int k = 0; k < 1 + round % 7; ++k) REQUIRE(c.try_send(next_in++) == op_status::ok);
      for (int k = 0; k < 1 + round % 5 && next_out < next_in; ++k) {
        auto r = c.try_recv();
        REQUIRE(r);
        REQUIRE(*r.value == next_out++);
      }
      while (c.size() > 3) REQUIRE(*c.recv() == next_out++);
    }
    while (next_out < next_in) REQUIRE(*c.recv() == next_out++);
    CHECK(c.size() == 0);
  }

  SECTION("capacity one") {
    auto one = goro::make_chan<std::string>(1);
    CHECK(one.try_send("a") == op_status::ok);
    CHECK(one.try_send("b") == op_status::full);
    CHECK(one.size() == 1);
    CHECK(one.recv() == std::optional<std::string>("a"));
    CHECK(one.try_send("c") == op_status::ok);
    CHECK(one.try_recv().value == std::optional<std::string>("c"));
  }
}

TEST_CASE("try_send and try_recv say what happened and never block", "[chan]") {
  auto c = goro::make_chan<std::unique_ptr<int>>(1);

  auto p = std::make_unique<int>(1);
  CHECK(c.try_send(std::move(p)) == op_status::ok);
  CHECK(p == nullptr);  // taken

  auto q = std::make_unique<int>(2);
  CHECK(c.try_send(std::move(q)) == op_status::full);
  REQUIRE(q != nullptr);  // a failed try_send leaves the rvalue alone
  CHECK(*q == 2);

  auto r = c.try_recv();
  CHECK(r.status == op_status::ok);
  REQUIRE(r.value.has_value());
  REQUIRE(*r.value != nullptr);
  CHECK(**r.value == 1);
  CHECK(c.try_recv().status == op_status::empty);

  // A bounded send that times out does not take the value either.
  CHECK(c.try_send(std::make_unique<int>(3)) == op_status::ok);
  CHECK(c.send_for(std::move(q), 5ms) == op_status::timeout);
  REQUIRE(q != nullptr);
  CHECK(*q == 2);

  c.close();
  CHECK(c.try_send(std::move(q)) == op_status::closed);
  REQUIRE(q != nullptr);
  // A blocking send on a closed channel throws, and the value stays with us.
  REQUIRE_THROWS_AS(c.send(std::move(q)), goro::closed_channel);
  REQUIRE(q != nullptr);
  REQUIRE_THROWS_AS(c.send_for(std::move(q), 5ms), goro::closed_channel);
  REQUIRE(q != nullptr);
  CHECK(*q == 2);

  // Closed but not drained: the value buffered before close still comes out.
  auto last = c.try_recv();
  CHECK(last.status == op_status::ok);
  REQUIRE(last.value.has_value());
  CHECK(**last.value == 3);
  CHECK(c.try_recv().status == op_status::closed);
  CHECK(c.try_recv().status == op_status::closed);

  SECTION("try_send of an lvalue copies it") {
    auto s = goro::make_chan<std::string>(1);
    std::string text = "kept";
    CHECK(s.try_send(text) == op_status::ok);
    CHECK(text == "kept");
    CHECK(s.try_send(text) == op_status::full);
    CHECK(text == "kept");
    CHECK(s.recv() == std::optional<std::string>("kept"));
  }
}

TEST_CASE("bounded waits time out, or succeed when the other side comes in time", "[chan][time]") {
  auto full = goro::make_chan<int>(1);
  full.send(0);
  auto empty = goro::make_chan<int>(1);

  auto check_timeouts = [&](failures& f) {
    auto t0 = goro::clock::now();
    f.expect(full.send_for(1, 20ms) == op_status::timeout, "send_for on a full channel");
    f.expect(at_least(goro::clock::now() - t0, 20ms), "send_for returned early");
    t0 = goro::clock::now();
    f.expect(empty.recv_for(20ms).status == op_status::timeout, "recv_for on an empty channel");
    f.expect(at_least(goro::clock::now() - t0, 20ms), "recv_for returned early");
    t0 = goro::clock::now();
    f.expect(full.send_until(1, t0 + 20ms) == op_status::timeout, "send_until, steady clock");
    f.expect(goro::clock::now() >= t0 + 20ms, "send_until returned early");
    const auto sys0 = std::chrono::system_clock::now();
    f.expect(empty.recv_until(sys0 + 20ms).status == op_status::timeout,
             "recv_until, system clock");
    f.expect(at_least(goro::clock::now() - t0, 40ms), "recv_until returned early");
    // Deadlines already past: no waiting, but a ready operation still happens.
    f.expect(empty.recv_until(goro::clock::now() - 1s).status == op_status::timeout, "past recv");
    f.expect(full.send_for(1, -5ms) == op_status::timeout, "negative send_for");
    f.expect(full.size() == 1 && empty.size() == 0, "a timed-out operation changed a channel");
    f.expect(empty.send_for(5, 0ms) == op_status::ok, "send_for(0) with room");
    auto r = empty.recv_until(goro::clock::now() - 1s);
    f.expect(r.status == op_status::ok && r.value == std::optional<int>(5), "past recv, ready");
    // Huge durations must not overflow into the past.
    f.expect(empty.send_for(6, std::chrono::hours::max()) == op_status::ok, "send_for(max)");
    f.expect(empty.recv_for(std::chrono::nanoseconds::max()).value == std::optional<int>(6),
             "recv_for(max)");
  };

  SECTION("from the main thread") {
    failures f;
    check_timeouts(f);
    CHECK(f.take() == std::vector<std::string>{});
  }
  SECTION("from a goroutine") {
    failures f;
    {
      goro::runtime rt(workers(2));
      rt.go([&] { check_timeouts(f); });
    }
    CHECK(f.take() == std::vector<std::string>{});
  }

  SECTION("a value that arrives before the deadline is received") {
    auto c = goro::make_chan<int>();
    failures f;
    {
      goro::runtime rt(workers(2));
      rt.go([&] {
        goro::sleep_for(20ms);
        c.send(1);
      });
      rt.go([&] {
        auto r = c.recv_for(60s);
        f.expect(r.status == op_status::ok && r.value == std::optional<int>(1),
                 "goroutine recv_for");
      });
    }
    std::thread sender([&] {
      std::this_thread::sleep_for(20ms);
      c.send(2);
    });
    auto r = c.recv_until(std::chrono::system_clock::now() + 60s);
    sender.join();
    CHECK(r.status == op_status::ok);
    CHECK(r.value == std::optional<int>(2));
    CHECK(f.take() == std::vector<std::string>{});
  }

  SECTION("a receiver that comes before the deadline takes the value") {
    auto c = goro::make_chan<int>();
    std::optional<int> got;
    std::thread receiver([&] {
      std::this_thread::sleep_for(20ms);
      got = c.recv();
    });
    CHECK(c.send_for(3, 60s) == op_status::ok);
    receiver.join();
    CHECK(got == std::optional<int>(3));
    // And from a goroutine, with a receiver that is a goroutine.
    failures f;
    {
      goro::runtime rt(workers(2));
      rt.go([&] {
        f.expect(c.send_until(4, goro::clock::now() + 60s) == op_status::ok, "send_until");
      });
      rt.go([&] {
        goro::sleep_for(20ms);
        f.expect(c.recv() == std::optional<int>(4), "goroutine receiver");
      });
    }
    CHECK(f.take() == std::vector<std::string>{});
  }
}

TEST_CASE("close wakes every blocked receiver", "[chan][close]") {
  const std::size_t cap = GENERATE(0u, 3u);
  auto c = goro::make_chan<int>(cap);
  std::atomic<int> woke_empty{0};
  std::atomic<int> got_value{0};
  std::atomic<int> waiting{0};
  auto receive = [&] {
    ++waiting;
    auto v = c.recv();
    if (v) {
      ++got_value;
    } else {
      ++woke_empty;
    }
  };
  auto receive_for = [&] {
    ++waiting;
    auto r = c.recv_for(60s);
    if (r.status == op_status::closed) {
      ++woke_empty;
    } else {
      ++got_value;
    }
  };
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (int i = 0; i < 6; ++i) rt.go(i % 2 ? std::function<void()>(receive) : receive_for);
    threads.emplace_back(receive);
    threads.emplace_back(receive_for);
    REQUIRE(eventually([&] { return waiting.load() == 8; }));
    goro::sleep_for(10ms);  // let them reach the channel (it does not matter if some do not)
    c.close();
  }
  for (auto& t : threads) t.join();
  CHECK(woke_empty.load() == 8);
  CHECK(got_value.load() == 0);
}

TEST_CASE("close makes blocked senders throw, and their values are neither lost nor doubled",
          "[chan][close]") {
  const std::size_t cap = GENERATE(0u, 2u);
  constexpr int kSenders = 12;
  constexpr int kReceived = 5;  // taken before the close
  auto c = goro::make_chan<std::unique_ptr<int>>(cap);
  std::array<std::atomic<int>, kSenders> sent{};   // 1: send returned
  std::array<std::atomic<int>, kSenders> threw{};  // 1: closed_channel, value still ours
  std::array<std::atomic<int>, kSenders> lost{};   // 1: threw, but the value was gone
  std::atomic<int> started{0};
  auto sender = [&](int id) {
    auto p = std::make_unique<int>(id);
    ++started;
    try {
      c.send(std::move(p));
      ++sent[id];
    } catch (const goro::closed_channel&) {
      if (p != nullptr && *p == id) {
        ++threw[id];
      } else {
        ++lost[id];
      }
    }
  };
  std::vector<int> received;
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (int id = 0; id < kSenders; ++id) {
      if (id % 3 == 0) {
        threads.emplace_back(sender, id);
      } else {
        rt.go(sender, id);
      }
    }
    REQUIRE(eventually([&] { return started.load() == kSenders; }));
    for (int k = 0; k < kReceived; ++k) {
      auto v = c.recv();
      REQUIRE(v.has_value());
      received.push_back(**v);
    }
    goro::sleep_for(10ms);
    c.close();
    // Buffered values sent before the close are still delivered.
    for (auto& v : c) received.push_back(*v);
  }
  for (auto& t : threads) t.join();

  absl::flat_hash_set<int> seen;
  for (int v : received) CHECK(seen.insert(v).second);  // nothing received twice
  int n_sent = 0;
  for (int id = 0; id < kSenders; ++id) {
    INFO("sender " << id);
    CHECK(lost[id].load() == 0);
    CHECK(sent[id].load() + threw[id].load() == 1);
    CHECK(seen.contains(id) == (sent[id].load() == 1));
    n_sent += sent[id].load();
  }
  CHECK(n_sent == static_cast<int>(received.size()));
  CHECK(n_sent >= kReceived);
  CHECK(n_sent <= kReceived + static_cast<int>(cap));
}

TEST_CASE("a closed buffered channel drains, then reports closed", "[chan][close]") {
  auto c = goro::make_chan<int>(5);
  c.send(1);
  c.send(2);
  c.send(3);
  c.close();
  CHECK(c.size() == 3);
  CHECK(c.try_send(4) == op_status::closed);
  CHECK(c.recv() == std::optional<int>(1));
  CHECK(c.recv_for(1ms).value == std::optional<int>(2));
  CHECK(c.try_recv().value == std::optional<int>(3));
  CHECK(c.recv() == std::nullopt);
  CHECK(c.recv() == std::nullopt);
  CHECK(c.try_recv().status == op_status::closed);
  const auto t0 = goro::clock::now();
  CHECK(c.recv_for(10s).status == op_status::closed);  // closed, not a timeout...
  CHECK(goro::clock::now() - t0 < 5s);                 // ...and at once
  CHECK(c.recv_until(goro::clock::now() - 1s).status == op_status::closed);

  SECTION("an unbuffered closed channel reports closed at once") {
    auto u = goro::make_chan<int>();
    u.close();
    CHECK(u.recv() == std::nullopt);
    CHECK(u.try_recv().status == op_status::closed);
    CHECK(u.recv_for(0ms).status == op_status::closed);
  }
}

TEST_CASE("send on a closed channel and close of a closed channel throw", "[chan][close]") {
  auto c = goro::make_chan<int>(GENERATE(0u, 1u));
  c.close();
  REQUIRE_THROWS_AS(c.send(1), goro::closed_channel);
  const int one = 1;
  REQUIRE_THROWS_AS(c.send(one), goro::closed_channel);
  REQUIRE_THROWS_AS(c.send_for(1, 1s), goro::closed_channel);
  REQUIRE_THROWS_AS(c.send_until(1, goro::clock::now() + 1s), goro::closed_channel);
  REQUIRE_THROWS_AS(c.close(), goro::closed_channel);
  goro::send_chan<int> s = c;
  REQUIRE_THROWS_AS(s.close(), goro::closed_channel);
  // Both are logic errors, as the API promises.
  static_assert(std::is_base_of_v<std::logic_error, goro::closed_channel>);
  static_assert(std::is_base_of_v<std::logic_error, goro::nil_channel>);
  try {
    c.send(2);
    FAIL("send on a closed channel returned");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("closed") != std::string::npos);
  }
}

TEST_CASE("range-for receives until the channel is closed and drained", "[chan][range]") {
  const std::size_t cap = GENERATE(0u, 1u, 16u);
  auto c = goro::make_chan<int>(cap);
  goro::runtime rt(workers(2));
  rt.go([c] {
    for (int i = 0; i < 100; ++i) c.send(i);
    c.close();
  });
  std::vector<int> got;
  for (int v : c) got.push_back(v);
  REQUIRE(got.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);

  SECTION("over a recv_chan view, from a goroutine, with a move-only type") {
    auto m = goro::make_chan<std::unique_ptr<int>>(cap);
    goro::recv_chan<std::unique_ptr<int>> in = m;
    std::atomic<int> sum{0}, n{0};
    rt.go([in, &sum, &n] {
      for (auto& p : in) {
        sum += *p;
        ++n;
      }
    });
    for (int i = 1; i <= 10; ++i) m.send(std::make_unique<int>(i));
    m.close();
    rt.wait();
    CHECK(n.load() == 10);
    CHECK(sum.load() == 55);
  }

  SECTION("a channel closed while empty ends the loop at once") {
    auto e = goro::make_chan<int>(cap);
    e.close();
    int loops = 0;
    for (int v : e) loops += 1 + v;
    CHECK(loops == 0);
  }
}

TEST_CASE("senders blocked on a full buffer are served in the order they blocked", "[chan][fifo]") {
  // Each sender is started once the one before it has parked in send(), so
  // the senders block in exactly the order they are started. (Seeing a
  // sender reach its send() is not enough: a preemption there, which the
  // TSan build met in every run, lets the next one block first.)
  constexpr int kBlocked = 6;
  auto c = goro::make_chan<int>(2);
  failures f;
  std::vector<int> order;
  {
    goro::runtime rt(workers(1));
    rt.go([&] {
      c.send(0);
      c.send(1);
      for (int i = 0; i < kBlocked; ++i) {
        std::atomic<goro::detail::goroutine*> sender{nullptr};
        goro::go([&, i] {
          sender = current_goroutine();
          c.send(2 + i);
        });
        if (!eventually([&] { return sender.load() != nullptr; }) ||
            !eventually_parked(sender.load())) {
          f.add("a sender never blocked");
          return;
        }
      }
      f.expect(c.size() == 2, "the buffer should still hold exactly two values");
      for (int k = 0; k < 2 + kBlocked; ++k) {
        auto v = c.recv();
        order.push_back(v ? *v : -1);
        // Each receive moves the first blocked sender's value into the buffer.
        const std::size_t want = static_cast<std::size_t>(std::min(2, 2 + kBlocked - k - 1));
        f.expect(c.size() == want,
                 "size after receive " + std::to_string(k) + " is " + std::to_string(c.size()));
      }
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
  std::vector<int> want;
  for (int i = 0; i < 2 + kBlocked; ++i) want.push_back(i);
  CHECK(order == want);
}

TEST_CASE("receivers blocked on an empty channel are served in the order they blocked",
          "[chan][fifo]") {
  const std::size_t cap = GENERATE(0u, 2u);
  constexpr int kBlocked = 5;
  auto c = goro::make_chan<int>(cap);
  std::vector<int> got(kBlocked, -1);
  failures f;
  {
    goro::runtime rt(workers(1));
    rt.go([&] {
      // As with the senders above: each receiver parked before the next starts.
      for (int i = 0; i < kBlocked; ++i) {
        std::atomic<goro::detail::goroutine*> receiver{nullptr};
        goro::go([&, i] {
          receiver = current_goroutine();
          auto v = c.recv();
          got[static_cast<std::size_t>(i)] = v ? *v : -2;
        });
        if (!eventually([&] { return receiver.load() != nullptr; }) ||
            !eventually_parked(receiver.load())) {
          f.add("a receiver never blocked");
          return;
        }
      }
      for (int i = 0; i < kBlocked; ++i) c.send(100 + i);
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
  CHECK(got == std::vector<int>{100, 101, 102, 103, 104});
}

TEST_CASE("element types: move-only, large, without a default constructor", "[chan][types]") {
  goro::runtime rt(workers(2));

  SECTION("std::unique_ptr through unbuffered and buffered channels") {
    for (std::size_t cap : {0u, 1u, 8u}) {
      auto c = goro::make_chan<std::unique_ptr<int>>(cap);
      rt.go([c] {
        for (int i = 0; i < 50; ++i) c.send(std::make_unique<int>(i));
        c.close();
      });
      int expect = 0;
      while (auto v = c.recv()) {
        REQUIRE(*v != nullptr);
        CHECK(**v == expect++);
      }
      CHECK(expect == 50);
    }
  }

  SECTION("a 4 KiB array keeps every byte") {
    using block = std::array<char, 4096>;
    for (std::size_t cap : {0u, 3u}) {
      auto c = goro::make_chan<block>(cap);
      rt.go([c] {
        for (int i = 0; i < 20; ++i) {
          block b;
          for (std::size_t k = 0; k < b.size(); ++k) b[k] = static_cast<char>((k * 7 + i) & 0x7f);
          c.send(b);
        }
        c.close();
      });
      int i = 0;
      bool intact = true;
      for (const block& b : c) {
        for (std::size_t k = 0; k < b.size(); ++k) {
          intact = intact && b[k] == static_cast<char>((k * 7 + i) & 0x7f);
        }
        ++i;
      }
      CHECK(i == 20);
      CHECK(intact);
    }
  }

  SECTION("a type without a default constructor") {
    static_assert(!std::is_default_constructible_v<no_default>);
    for (std::size_t cap : {0u, 2u}) {
      auto c = goro::make_chan<no_default>(cap);
      rt.go([c] {
        c.send(no_default(1));
        const no_default two(2);
        c.send(two);
        (void)c.send_for(no_default(3), 60s);
        c.close();
      });
      std::vector<int> got;
      for (const no_default& v : c) got.push_back(v.v);
      CHECK(got == std::vector<int>{1, 2, 3});
      CHECK(c.try_recv().status == op_status::closed);
    }
  }

  SECTION("std::string, including long ones that allocate") {
    auto c = goro::make_chan<std::string>(4);
    const std::string big(10000, 'x');
    rt.go([c, big] {
      c.send(big);
      c.send("");
      c.send("short");
      c.close();
    });
    CHECK(c.recv() == std::optional<std::string>(big));
    CHECK(c.recv() == std::optional<std::string>(""));
    CHECK(c.recv() == std::optional<std::string>("short"));
    CHECK(c.recv() == std::nullopt);
  }
}

TEST_CASE("values are moved, not copied, and none leak", "[chan][types]") {
  counted::live = 0;
  counted::copies = 0;
  {
    auto c = goro::make_chan<counted>(4);
    c.send(counted(1));
    c.send(counted(2));
    CHECK(counted::copies.load() == 0);
    const counted three(3);
    c.send(three);  // the one copy: the caller keeps its value
    CHECK(counted::copies.load() == 1);
    auto v = c.recv();
    REQUIRE(v.has_value());
    CHECK(v->v == 1);
    CHECK(counted::copies.load() == 1);
    CHECK(counted::live.load() == 4);  // v, `three`, and two in the buffer
  }
  // The channel went away with two values still buffered: they were destroyed.
  CHECK(counted::live.load() == 0);

  {
    auto u = goro::make_chan<counted>();
    goro::runtime rt(workers(2));
    rt.go([u] { u.send(counted(5)); });
    auto v = u.recv();
    REQUIRE(v.has_value());
    CHECK(v->v == 5);
  }
  CHECK(counted::live.load() == 0);
  CHECK(counted::copies.load() == 1);
}

TEST_CASE("chan<T> is a copyable handle compared by identity", "[chan][handle]") {
  goro::chan<int> nil1, nil2;
  CHECK(nil1 == nil2);
  auto a = goro::make_chan<int>(2);
  auto b = goro::make_chan<int>(2);
  CHECK(a != b);
  CHECK_FALSE(a == b);
  CHECK(a != nil1);
  goro::chan<int> a2 = a;
  CHECK(a2 == a);
  a2.send(1);
  CHECK(a.size() == 1);
  CHECK(a.recv() == std::optional<int>(1));
  goro::chan<int> a3;
  a3 = a;
  CHECK(a3 == a);
  a3 = goro::chan<int>();
  CHECK_FALSE(a3);
  CHECK(a3 == nil1);
  CHECK(a == a2);

  // The channel lives as long as any handle to it.
  goro::chan<int> survivor;
  {
    auto temp = goro::make_chan<int>(1);
    temp.send(9);
    survivor = temp;
  }
  CHECK(survivor.recv() == std::optional<int>(9));

  // A closed state is shared by all handles.
  a.close();
  CHECK(a2.try_recv().status == op_status::closed);
  REQUIRE_THROWS_AS(a2.close(), goro::closed_channel);
}

TEST_CASE("send_chan and recv_chan are views of the same channel", "[chan][handle]") {
  auto c = goro::make_chan<int>(3);
  goro::send_chan<int> out = c;
  goro::recv_chan<int> in = c;
  CHECK(out == c);
  CHECK(in == c);
  CHECK(in == out);
  CHECK(out.capacity() == 3);
  CHECK(in.capacity() == 3);
  goro::send_chan<int> nil_out;
  goro::recv_chan<int> nil_in;
  CHECK_FALSE(nil_out);
  CHECK_FALSE(nil_in);
  CHECK(nil_in == nil_out);
  CHECK(in != nil_in);
  CHECK(out != goro::send_chan<int>(goro::make_chan<int>(3)));

  out.send(1);
  CHECK(out.try_send(2) == op_status::ok);
  CHECK(out.send_for(3, 1s) == op_status::ok);
  CHECK(out.try_send(4) == op_status::full);
  CHECK(in.size() == 3);
  CHECK(in.recv() == std::optional<int>(1));
  CHECK(in.try_recv().value == std::optional<int>(2));
  CHECK(in.recv_for(1s).value == std::optional<int>(3));
  out.close();
  CHECK(in.recv() == std::nullopt);
  CHECK(c.try_recv().status == op_status::closed);

  SECTION("views passed to goroutines, like Go's directional parameters") {
    auto pipe = goro::make_chan<int>();
    auto results = goro::make_chan<int>();
    auto produce = [](goro::send_chan<int> o, int n) {
      for (int i = 1; i <= n; ++i) o.send(i);
      o.close();
    };
    auto sum = [](goro::recv_chan<int> i, goro::send_chan<int> o) {
      int s = 0;
      for (int v : i) s += v;
      o.send(s);
    };
    goro::runtime rt(workers(2));
    rt.go(produce, pipe, 100);
    rt.go(sum, pipe, results);
    CHECK(results.recv() == std::optional<int>(5050));
  }
}

TEST_CASE("goroutines, plain threads and main share channels", "[chan][mixed]") {
  const std::size_t cap = GENERATE(0u, 8u);
  const int kPerProducer = 2000 / kScale;
  constexpr int kGoProducers = 3, kThreadProducers = 2;
  constexpr int kProducers = kGoProducers + kThreadProducers + 1;  // + main
  const int kTotal = kProducers * kPerProducer;
  auto c = goro::make_chan<int>(cap);
  std::vector<std::atomic<int>> seen(kTotal);
  std::atomic<int> bad{0};
  auto consume = [&] {
    for (int v : c) {
      if (v < 0 || v >= kTotal) {
        ++bad;
      } else {
        ++seen[static_cast<std::size_t>(v)];
      }
    }
  };
  auto produce = [&](int p) {
    for (int i = 0; i < kPerProducer; ++i) c.send(p * kPerProducer + i);
  };
  goro::wait_group producers;
  producers.add(kProducers);
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (int k = 0; k < 3; ++k) rt.go(consume);
    for (int k = 0; k < 2; ++k) threads.emplace_back(consume);
    for (int p = 0; p < kGoProducers; ++p) {
      rt.go([&, p] {
        produce(p);
        producers.done();
      });
    }
    for (int p = kGoProducers; p < kGoProducers + kThreadProducers; ++p) {
      threads.emplace_back([&, p] {
        produce(p);
        producers.done();
      });
    }
    rt.go([&] {  // the closer: once every producer is done
      producers.wait();
      c.close();
    });
    produce(kProducers - 1);  // main produces too
    producers.done();
  }
  for (auto& t : threads) t.join();
  CHECK(bad.load() == 0);
  int wrong = 0;
  for (auto& s : seen) wrong += s.load() != 1;
  CHECK(wrong == 0);
}

TEST_CASE("a send happens before the matching receive completes", "[chan][memory-model]") {
  // Plain (non-atomic) data written before a send and read after the receive:
  // ThreadSanitizer reports a race if the channel does not order them.
  const std::size_t cap = GENERATE(0u, 4u);
  constexpr int kN = 400;
  struct payload {
    int id;
    std::vector<int> data;
  };
  auto c = goro::make_chan<payload*>(cap);
  auto back = goro::make_chan<payload*>(cap);
  std::vector<payload> store(kN);
  std::atomic<int> bad{0};
  goro::runtime rt(workers(2));
  rt.go([&] {
    for (int i = 0; i < kN; ++i) {
      payload& p = store[static_cast<std::size_t>(i)];
      p.id = i;
      p.data.assign(8, i);
      c.send(&p);
    }
    c.close();
  });
  std::thread checker([&] {
    for (payload* p : c) {
      for (int x : p->data) bad += x != p->id;
      p->data.push_back(-1);  // a write the next hop must see
      back.send(p);
    }
    back.close();
  });
  int n = 0;
  for (payload* p : back) {
    bad += p->data.size() != 9 || p->data.back() != -1;
    ++n;
  }
  checker.join();
  CHECK(n == kN);
  CHECK(bad.load() == 0);
}
