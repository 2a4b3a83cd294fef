// goro-test: labels=slow
//
// Buffered channels under churn: small capacities (every few operations
// fill or drain the buffer and a party parks), every kind of sender and
// receiver at once, plain threads beside goroutines, and enough laps for
// the buffer's positions to wrap many times. What they check is what a
// buffered channel must keep whatever its inside (a lock around a ring
// today; the lock-free ring of docs/design.md, tried and not merged):
// each value arrives once, each sender's values in the order sent, a
// non-blocking operation that says "full" or "empty" means it, a close is
// a clean cut, and no value leaks.
//
// Catch2's assertions are not thread-safe: goroutines and threads record
// what they saw and the test thread checks it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using goro::op_status;

namespace {

using namespace goro_test;

constexpr std::uint64_t kSenderShift = 32;

std::uint64_t tag(std::uint64_t sender, std::uint64_t seq) {
  return (sender << kSenderShift) | seq;
}

/// What the receivers saw, merged when each finishes.
class receipts {
 public:
  void merge(const std::vector<std::uint64_t>& got) {
    std::lock_guard<std::mutex> lock(m_);
    all_.push_back(got);
  }
  /// Every sender's values 0..per_sender-1 arrived exactly once, and each
  /// receiver saw every sender's values in increasing order (the channel is
  /// FIFO, so no receiver can see a later send of one sender before an
  /// earlier one).
  void check(std::size_t senders, std::uint64_t per_sender, failures& f) {
    std::lock_guard<std::mutex> lock(m_);
    std::vector<std::vector<int>> seen(senders, std::vector<int>(per_sender, 0));
    for (const auto& got : all_) {
      std::vector<std::int64_t> last(senders, -1);
      for (std::uint64_t v : got) {
        const std::uint64_t s = v >> kSenderShift;
        const std::uint64_t seq = v & ((std::uint64_t{1} << kSenderShift) - 1);
        if (s >= senders || seq >= per_sender) {
          f.add("a value nobody sent: " + std::to_string(v));
          continue;
        }
        ++seen[s][seq];
        if (static_cast<std::int64_t>(seq) <= last[s]) {
          f.add("sender " + std::to_string(s) + "'s value " + std::to_string(seq) +
                " after its value " + std::to_string(last[s]));
        }
        last[s] = static_cast<std::int64_t>(seq);
      }
    }
    for (std::size_t s = 0; s < senders; ++s) {
      for (std::uint64_t q = 0; q < per_sender; ++q) {
        if (seen[s][q] != 1) {
          f.add("sender " + std::to_string(s) + "'s value " + std::to_string(q) + " arrived " +
                std::to_string(seen[s][q]) + " times");
          return;
        }
      }
    }
  }

 private:
  std::mutex m_;
  std::vector<std::vector<std::uint64_t>> all_;
};

/// Sends values 0..n-1 of sender `s` on c, in order, by the means `kind`
/// picks: send, try_send until it succeeds, send_for, select.
void send_all(const goro::chan<std::uint64_t>& c, std::uint64_t s, std::uint64_t n, int kind) {
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t v = tag(s, i);
    switch ((kind + static_cast<int>(i)) % 4) {
      case 0:
        c.send(v);
        break;
      case 1:
        while (c.try_send(std::uint64_t{v}) != op_status::ok) goro::yield();
        break;
      case 2:
        while (c.send_for(std::uint64_t{v}, 50us) != op_status::ok) {
        }
        break;
      default:
        goro::select(goro::case_send(c, v, [] {}));
        break;
    }
  }
}

/// Receives until c is closed and drained, by the means `kind` picks.
std::vector<std::uint64_t> recv_all(const goro::chan<std::uint64_t>& c, int kind) {
  std::vector<std::uint64_t> got;
  for (int i = 0;; ++i) {
    std::optional<std::uint64_t> v;
    switch ((kind + i) % 4) {
      case 0:
        v = c.recv();
        if (!v) return got;
        break;
      case 1: {
        auto r = c.try_recv();
        if (r.status == op_status::closed) return got;
        if (r.status != op_status::ok) {
          goro::yield();
          continue;
        }
        v = std::move(r.value);
        break;
      }
      case 2: {
        auto r = c.recv_for(50us);
        if (r.status == op_status::closed) return got;
        if (r.status != op_status::ok) continue;
        v = std::move(r.value);
        break;
      }
      default: {
        bool closed = false;
        goro::select(goro::case_recv(c, [&](std::optional<std::uint64_t> x) {
          if (x) {
            v = x;
          } else {
            closed = true;
          }
        }));
        if (closed) return got;
        break;
      }
    }
    got.push_back(*v);
  }
}

}  // namespace

TEST_CASE("buffered: every value once and each sender's in order, at every capacity",
          "[chan][buffered]") {
  const std::size_t cap = GENERATE(1u, 2u, 3u, 5u, 8u, 64u);
  const std::size_t nworkers = GENERATE(1u, 2u, 4u);
  constexpr std::size_t kGoSenders = 4;
  constexpr std::size_t kThreadSenders = 1;
  constexpr std::size_t kSenders = kGoSenders + kThreadSenders;
  constexpr int kReceivers = 4;
  const std::uint64_t per_sender = 4000 / static_cast<std::uint64_t>(kScale);
  INFO("capacity " << cap << ", workers " << nworkers);

  auto c = goro::make_chan<std::uint64_t>(cap);
  receipts r;
  failures f;
  goro::wait_group senders;  // outlives the runtime, whose goroutines use it
  {
    goro::runtime rt(workers(nworkers));
    senders.add(static_cast<int>(kSenders));
    for (std::size_t s = 0; s < kGoSenders; ++s) {
      rt.go([&, s] {
        send_all(c, s, per_sender, static_cast<int>(s));
        senders.done();
      });
    }
    // A plain thread parks on its own parker, not by switching.
    std::thread t([&] {
      for (std::uint64_t i = 0; i < per_sender; ++i) c.send(tag(kGoSenders, i));
      senders.done();
    });
    for (int k = 0; k < kReceivers; ++k) {
      rt.go([&, k] { r.merge(recv_all(c, k)); });
    }
    rt.go([&] {
      senders.wait();
      c.close();
    });
    t.join();
  }
  r.check(kSenders, per_sender, f);
  CHECK(f.take() == std::vector<std::string>{});
  CHECK(c.size() == 0);
}

TEST_CASE("buffered: a close cuts cleanly through racing sends", "[chan][buffered][close]") {
  const std::size_t cap = GENERATE(1u, 4u, 32u);
  constexpr int kSenders = 4;
  const int rounds = 40 / kScale;
  failures f;
  for (int round = 0; round < rounds; ++round) {
    auto c = goro::make_chan<std::uint64_t>(cap);
    std::vector<std::vector<std::uint64_t>> sent(kSenders);
    std::vector<std::uint64_t> got;
    {
      goro::runtime rt(workers(2));
      for (int s = 0; s < kSenders; ++s) {
        rt.go([&, s] {
          // Sends until the close stops it; a send that threw delivered nothing.
          try {
            for (std::uint64_t i = 0;; ++i) {
              c.send(tag(static_cast<std::uint64_t>(s), i));
              sent[static_cast<std::size_t>(s)].push_back(i);
            }
          } catch (const goro::closed_channel&) {
          }
        });
      }
      rt.go([&] {
        for (std::uint64_t v : c) got.push_back(v);
      });
      rt.go([&] {
        goro::sleep_for(std::chrono::microseconds(200 + 50 * round));
        c.close();
      });
    }
    std::vector<std::vector<std::uint64_t>> by_sender(kSenders);
    for (std::uint64_t v : got) {
      const auto s = static_cast<std::size_t>(v >> kSenderShift);
      if (s >= kSenders) {
        f.add("a value nobody sent");
        continue;
      }
      by_sender[s].push_back(v & ((std::uint64_t{1} << kSenderShift) - 1));
    }
    for (int s = 0; s < kSenders; ++s) {
      const auto i = static_cast<std::size_t>(s);
      f.expect(by_sender[i] == sent[i], "round " + std::to_string(round) + ", sender " +
                                            std::to_string(s) + ": received " +
                                            std::to_string(by_sender[i].size()) + " of " +
                                            std::to_string(sent[i].size()) + " sent, or reordered");
    }
  }
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("buffered: try_send says full and try_recv empty only when it is so",
          "[chan][buffered]") {
  // The other party's operation completed before it set the flag, and the
  // test read the flag before it tried: the room (or the value) it made must
  // be seen. With no third party, "full" or "empty" would be a lie.
  const std::size_t cap = GENERATE(1u, 3u);
  const int rounds = 20000 / kScale;
  failures f;
  auto c = goro::make_chan<int>(cap);
  std::atomic<int> done{-1};  // both outlive the runtime, whose goroutines use them
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      for (int i = 0; i < rounds; ++i) {
        while (c.try_send(int{i}) == op_status::ok) {
        }
        // Full now; the partner takes one value, then says so.
        goro::go([&, i] {
          auto v = c.recv();
          (void)v;
          done.store(i, std::memory_order_release);
        });
        while (done.load(std::memory_order_acquire) != i) goro::yield();
        if (c.try_send(int{i}) != op_status::ok) {
          f.add("try_send said full after a receive had made room, round " + std::to_string(i));
          return;
        }
        // Drain; then the partner sends one and says so.
        while (c.try_recv().status == op_status::ok) {
        }
        goro::go([&, i] {
          c.send(-1);
          done.store(rounds + i, std::memory_order_release);
        });
        while (done.load(std::memory_order_acquire) != rounds + i) goro::yield();
        if (c.try_recv().status != op_status::ok) {
          f.add("try_recv said empty after a send had landed, round " + std::to_string(i));
          return;
        }
      }
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
}

namespace {
struct tracked {
  static std::atomic<int> live;
  std::unique_ptr<std::string> s;
  explicit tracked(int v) : s(std::make_unique<std::string>(std::to_string(v))) { ++live; }
  tracked(tracked&& o) noexcept : s(std::move(o.s)) { ++live; }
  tracked& operator=(tracked&&) = delete;
  ~tracked() { --live; }
};
std::atomic<int> tracked::live{0};
}  // namespace

TEST_CASE("buffered: values left in a channel whose positions wrapped are destroyed with it",
          "[chan][buffered][types]") {
  const std::size_t cap = GENERATE(1u, 3u, 4u);
  const int left = GENERATE(0, 1, 2);
  if (static_cast<std::size_t>(left) > cap) return;
  const int before = tracked::live.load();
  {
    auto c = goro::make_chan<tracked>(cap);
    // Laps enough to carry head and tail over their index bits many times.
    for (int i = 0; i < 1000; ++i) {
      c.send(tracked(i));
      auto v = c.recv();
      REQUIRE(v);
      CHECK(*v->s == std::to_string(i));
    }
    for (int i = 0; i < left; ++i) c.send(tracked(i));
    CHECK(c.size() == static_cast<std::size_t>(left));
  }
  CHECK(tracked::live.load() == before);
}

TEST_CASE("buffered: size stays within capacity while both sides race", "[chan][buffered]") {
  constexpr std::size_t kCap = 4;
  const int per_party = 20000 / kScale;
  auto c = goro::make_chan<int>(kCap);
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> worst{0};
  goro::wait_group parties;  // outlives the runtime, whose goroutines use it
  {
    goro::runtime rt(workers(2));
    parties.add(4);
    for (int p = 0; p < 2; ++p) {
      rt.go([&] {
        for (int i = 0; i < per_party; ++i) c.send(i);
        parties.done();
      });
      rt.go([&] {
        for (int i = 0; i < per_party; ++i) (void)c.recv();
        parties.done();
      });
    }
    std::thread watcher([&] {
      while (!stop.load()) {
        const std::size_t n = c.size();
        if (n > worst.load()) worst.store(n);
      }
    });
    rt.go([&] {
      parties.wait();
      stop.store(true);
    });
    watcher.join();
  }
  CHECK(worst.load() <= kCap);
  CHECK(c.size() == 0);
}
