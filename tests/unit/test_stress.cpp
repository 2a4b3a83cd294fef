// goro-test: labels=slow
//
// Stress: goroutines and plain threads racing sends, receives, selects,
// timeouts and close on shared channels. Every value is tagged with who sent
// it; in the end what was received must be exactly what was reported sent,
// each value once. A send that threw closed_channel or timed out must not
// have delivered its value; a receive that timed out must not have taken one.
//
// Catch2's assertions are not thread-safe: the parties keep their own logs
// and the test thread checks the merged result.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <absl/container/flat_hash_set.h>
#include <absl/random/random.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using goro::case_recv;
using goro::case_send;
using goro::op_status;

namespace {

using goro_test::kScale;
using goro_test::seeded_bitgen;
using goro_test::workers;

/// Yields the goroutine or the thread: the polling parties must not hog a worker.
void let_others_run() { goro::yield(); }

std::chrono::microseconds random_us(absl::BitGen& gen, int max_us) {
  return std::chrono::microseconds(absl::Uniform(gen, 0, max_us + 1));
}

/// What every party did, merged under a lock when it finishes.
class ledger {
 public:
  void merge(const std::vector<std::uint64_t>& sent, const std::vector<std::uint64_t>& unsent,
             const std::vector<std::uint64_t>& received) {
    std::lock_guard<std::mutex> lock(m_);
    sent_.insert(sent_.end(), sent.begin(), sent.end());
    unsent_.insert(unsent_.end(), unsent.begin(), unsent.end());
    received_.insert(received_.end(), received.begin(), received.end());
  }

  /// Checks on the test thread: received == sent, each value once, and no
  /// value whose send failed arrived.
  void check() {
    std::lock_guard<std::mutex> lock(m_);
    absl::flat_hash_set<std::uint64_t> sent(sent_.begin(), sent_.end());
    REQUIRE(sent.size() == sent_.size());  // values are unique by construction
    absl::flat_hash_set<std::uint64_t> unsent(unsent_.begin(), unsent_.end());
    std::size_t both = 0;
    for (auto v : unsent_) both += sent.contains(v);
    CHECK(both == 0);  // a party cannot report a value as sent and as not sent
    absl::flat_hash_set<std::uint64_t> received;
    std::size_t duplicates = 0, phantom = 0, resurrected = 0;
    for (auto v : received_) {
      duplicates += !received.insert(v).second;
      phantom += !sent.contains(v);
      resurrected += unsent.contains(v);
    }
    INFO("sent " << sent_.size() << ", not sent " << unsent_.size() << ", received "
                 << received_.size());
    CHECK(duplicates == 0);                   // received twice
    CHECK(phantom == 0);                      // received but never reported sent
    CHECK(resurrected == 0);                  // a failed send delivered its value anyway
    CHECK(received_.size() == sent_.size());  // nothing lost
  }

  std::size_t sent_count() {
    std::lock_guard<std::mutex> lock(m_);
    return sent_.size();
  }

 private:
  std::mutex m_;
  std::vector<std::uint64_t> sent_, unsent_, received_;
};

std::uint64_t tag(std::uint32_t party, std::uint64_t seq) {
  return (static_cast<std::uint64_t>(party) << 40) | seq;
}

}  // namespace

TEST_CASE("stress: every kind of sender and receiver races a close", "[stress]") {
  const std::size_t cap = GENERATE(0u, 1u, 16u);
  INFO("capacity " << cap);
  const std::int64_t target = 2000000 / kScale;
  auto c = goro::make_chan<std::uint64_t>(cap);
  ledger book;
  std::atomic<std::int64_t> received{0};

  // style: 0 send, 1 send_for, 2 try_send, 3 select with a timer, 4 send_until
  auto producer = [&](std::uint32_t id, int style) {
    absl::BitGen gen = seeded_bitgen();
    std::vector<std::uint64_t> sent, unsent;
    for (std::uint64_t seq = 0;; ++seq) {
      const std::uint64_t v = tag(id, seq);
      try {
        bool ok = false;
        switch (style) {
          case 0:
            c.send(v);
            ok = true;
            break;
          case 1:
            ok = c.send_for(v, random_us(gen, 200)) == op_status::ok;
            break;
          case 2: {
            const op_status s = c.try_send(v);
            if (s == op_status::closed) throw goro::closed_channel("try_send saw closed");
            ok = s == op_status::ok;
            if (!ok) let_others_run();
            break;
          }
          case 3: {
            goro::timer t(random_us(gen, 300));
            ok = goro::select(case_send(c, v), case_recv(t.chan())) == 0;
            break;
          }
          default:
            ok = c.send_until(v, goro::clock::now() + random_us(gen, 100)) == op_status::ok;
            break;
        }
        (ok ? sent : unsent).push_back(v);
      } catch (const goro::closed_channel&) {
        unsent.push_back(v);
        break;
      }
    }
    book.merge(sent, unsent, {});
  };

  // style: 0 recv, 1 recv_for, 2 try_recv, 3 select with a timer, 4 range-for
  auto consumer = [&](int style) {
    absl::BitGen gen = seeded_bitgen();
    std::vector<std::uint64_t> got;
    auto take = [&](std::uint64_t v) {
      got.push_back(v);
      ++received;
    };
    for (bool open = true; open;) {
      switch (style) {
        case 0: {
          auto v = c.recv();
          if (v) {
            take(*v);
          } else {
            open = false;
          }
          break;
        }
        case 1: {
          auto r = c.recv_for(random_us(gen, 200));
          if (r.status == op_status::ok) take(*r.value);
          open = r.status != op_status::closed;
          break;
        }
        case 2: {
          auto r = c.try_recv();
          if (r.status == op_status::ok) take(*r.value);
          if (r.status == op_status::empty) let_others_run();
          open = r.status != op_status::closed;
          break;
        }
        case 3: {
          goro::timer t(random_us(gen, 300));
          goro::select(case_recv(c,
                                 [&](std::optional<std::uint64_t> v) {
                                   if (v) {
                                     take(*v);
                                   } else {
                                     open = false;
                                   }
                                 }),
                       case_recv(t.chan()));
          break;
        }
        default:
          for (std::uint64_t v : c) take(v);
          open = false;
          break;
      }
    }
    book.merge({}, {}, got);
  };

  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    std::uint32_t id = 0;
    for (int style = 0; style < 5; ++style) {
      rt.go(producer, id++, style);
      rt.go(producer, id++, style);
      rt.go(consumer, style);
      rt.go(consumer, style);
    }
    for (int style : {0, 1, 3}) {
      threads.emplace_back(producer, id++, style);
      threads.emplace_back(consumer, style);
    }
    const auto deadline = goro::clock::now() + 120s;
    while (received.load() < target && goro::clock::now() < deadline) goro::sleep_for(2ms);
    c.close();  // while senders are blocked, mid-timeout, polling
  }
  for (auto& t : threads) t.join();
  CHECK(received.load() >= target);
  book.check();
}

TEST_CASE("stress: selects over two channels with timers, closed at the end", "[stress]") {
  const std::int64_t target = 1000000 / kScale;
  auto a = goro::make_chan<std::uint64_t>();
  auto b = goro::make_chan<std::uint64_t>(3);
  ledger book;
  std::atomic<std::int64_t> received{0};

  auto producer = [&](std::uint32_t id) {
    absl::BitGen gen = seeded_bitgen();
    std::vector<std::uint64_t> sent, unsent;
    for (std::uint64_t seq = 0;; ++seq) {
      const std::uint64_t v = tag(id, seq);
      goro::timer t(random_us(gen, 500));
      try {
        const std::size_t i = goro::select(case_send(a, v), case_send(b, v), case_recv(t.chan()));
        (i < 2 ? sent : unsent).push_back(v);
      } catch (const goro::closed_channel&) {
        unsent.push_back(v);
        break;
      }
    }
    book.merge(sent, unsent, {});
  };
  auto consumer = [&] {
    absl::BitGen gen = seeded_bitgen();
    std::vector<std::uint64_t> got;
    goro::chan<std::uint64_t> in[2] = {a, b};
    while (in[0] || in[1]) {
      goro::timer t(random_us(gen, 500));
      auto on = [&](int k) {
        return [&, k](std::optional<std::uint64_t> v) {
          if (v) {
            got.push_back(*v);
            ++received;
          } else {
            in[k] = goro::chan<std::uint64_t>();  // closed: switch the case off
          }
        };
      };
      goro::select(case_recv(in[0], on(0)), case_recv(in[1], on(1)), case_recv(t.chan()));
    }
    book.merge({}, {}, got);
  };

  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (std::uint32_t id = 0; id < 6; ++id) rt.go(producer, id);
    for (int k = 0; k < 6; ++k) rt.go(consumer);
    threads.emplace_back(producer, 100);
    threads.emplace_back(consumer);
    const auto deadline = goro::clock::now() + 120s;
    while (received.load() < target && goro::clock::now() < deadline) goro::sleep_for(2ms);
    a.close();
    b.close();
  }
  for (auto& t : threads) t.join();
  CHECK(received.load() >= target);
  book.check();
}

TEST_CASE("stress: timeouts racing deliveries neither lose nor invent values", "[stress]") {
  // Very short deadlines on both sides of an unbuffered channel, so that a
  // deadline and a hand-off often land at the same moment. A sender whose
  // send_for timed out must not have handed its value over; a receiver
  // whose recv_for timed out must not have taken one.
  const int attempts = 100000 / kScale;
  const std::size_t cap = GENERATE(0u, 1u);
  auto c = goro::make_chan<std::uint64_t>(cap);
  ledger book;
  std::atomic<int> senders_left{0};

  auto sender = [&](std::uint32_t id) {
    absl::BitGen gen = seeded_bitgen();
    std::vector<std::uint64_t> sent, unsent;
    for (int k = 0; k < attempts; ++k) {
      const std::uint64_t v = tag(id, static_cast<std::uint64_t>(k));
      (c.send_for(v, random_us(gen, 30)) == op_status::ok ? sent : unsent).push_back(v);
    }
    book.merge(sent, unsent, {});
    --senders_left;
  };
  auto receiver = [&] {
    absl::BitGen gen = seeded_bitgen();
    std::vector<std::uint64_t> got;
    // Short deadlines while senders remain, then drain what is buffered.
    while (senders_left.load() > 0) {
      auto r = c.recv_for(random_us(gen, 30));
      if (r) got.push_back(*r.value);
    }
    while (auto r = c.try_recv()) got.push_back(*r.value);
    book.merge({}, {}, got);
  };

  std::vector<std::thread> threads;
  senders_left = 4;
  {
    goro::runtime rt(workers(2));
    rt.go(sender, 0);
    rt.go(sender, 1);
    threads.emplace_back(sender, 2);
    threads.emplace_back(sender, 3);
    rt.go(receiver);
    rt.go(receiver);
    threads.emplace_back(receiver);
    threads.emplace_back(receiver);
  }
  for (auto& t : threads) t.join();
  INFO("capacity " << cap);
  CHECK(book.sent_count() > 0);
  book.check();
}

TEST_CASE("stress: close wakes thousands of parked goroutines and blocked threads", "[stress]") {
  const int parked = 5000 / kScale;
  const int values = parked / 2;
  auto in = goro::make_chan<int>();
  auto out = goro::make_chan<int>();
  std::atomic<int> got_value{0}, saw_close{0}, sender_ok{0}, sender_threw{0};
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (int k = 0; k < parked; ++k) {
      rt.go([&] {
        if (in.recv()) {
          ++got_value;
        } else {
          ++saw_close;
        }
      });
      rt.go([&, k] {
        try {
          out.send(k);
          ++sender_ok;
        } catch (const goro::closed_channel&) {
          ++sender_threw;
        }
      });
    }
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&] {
        if (in.recv()) {
          ++got_value;
        } else {
          ++saw_close;
        }
      });
      threads.emplace_back([&] {
        try {
          out.send(-1);
          ++sender_ok;
        } catch (const goro::closed_channel&) {
          ++sender_threw;
        }
      });
    }
    for (int k = 0; k < values; ++k) {
      in.send(k);
      (void)out.recv();
    }
    in.close();
    out.close();
  }
  for (auto& t : threads) t.join();
  CHECK(got_value.load() == values);
  CHECK(saw_close.load() == parked + 4 - values);
  CHECK(sender_ok.load() == values);
  CHECK(sender_threw.load() == parked + 4 - values);
}

TEST_CASE("stress: a token passed around a ring of goroutines and threads", "[stress]") {
  // Every hop crosses between goroutines on different workers and plain
  // threads; the count at the end proves no hand-off was lost or doubled.
  constexpr int kGoroutines = 6, kThreads = 2, kParties = kGoroutines + kThreads;
  const int laps = 50000 / kScale;
  std::vector<goro::chan<int>> links;
  for (int k = 0; k < kParties; ++k) links.push_back(goro::make_chan<int>(k % 2));
  std::atomic<int> hops{0};
  auto party = [&](int k) {
    const auto& in = links[static_cast<std::size_t>(k)];
    const auto& next = links[static_cast<std::size_t>((k + 1) % kParties)];
    for (int v : in) {
      ++hops;
      if (v == laps * kParties) {
        for (const auto& l : links) {
          try {
            l.close();
          } catch (const goro::closed_channel&) {
          }
        }
        break;
      }
      next.send(v + 1);
    }
  };
  std::vector<std::thread> threads;
  {
    goro::runtime rt(workers(2));
    for (int k = 0; k < kParties; ++k) {
      if (k % 4 == 1) {
        threads.emplace_back(party, k);
      } else {
        rt.go(party, k);
      }
    }
    links[0].send(1);
  }
  for (auto& t : threads) t.join();
  CHECK(hops.load() == laps * kParties);
}
