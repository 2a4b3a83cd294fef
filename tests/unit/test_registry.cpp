// The runtime's registry of live goroutines (detail/g_registry.hpp, a slot
// table that workers write without locked instructions): a goroutine dump
// lists every live goroutine exactly once, oldest first, while goroutines
// start and exit on every worker, migrate between workers and are started
// from outside the runtime; and the table itself, driven directly, with the
// membarrier handshake and with plain fences.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

/// The goroutine ids of one dump, in the order it lists them.
std::vector<std::uint64_t> dumped_ids(goro::runtime& rt) {
  std::ostringstream out;
  rt.dump_goroutines(out);
  const std::string d = out.str();
  std::vector<std::uint64_t> ids;
  const std::string head = "goroutine ";
  for (std::size_t at = d.find(head); at != std::string::npos; at = d.find(head, at + 1)) {
    if (at != 0 && d[at - 1] != '\n') continue;  // "created by ..." lines never start so
    ids.push_back(std::stoull(d.substr(at + head.size())));
  }
  return ids;
}

}  // namespace

TEST_CASE("registry: dumps list every live goroutine once while others start and exit",
          "[monitor][dump][registry]") {
  for (std::size_t workers : {2u, 4u}) {
    INFO("workers " << workers);
    goro::runtime_options o;
    o.workers = workers;
    goro::runtime rt(o);

    // Goroutines that stay parked for the whole test: half started from
    // this thread (the registry's outside shard), half from a goroutine (a
    // worker's shard).
    constexpr int parked_count = 32;
    auto gate = goro::make_chan<int>();
    std::mutex ids_lock;
    std::vector<std::uint64_t> parked_ids;
    goro::wait_group parked;
    parked.add(parked_count);
    auto park_one = [&ids_lock, &parked_ids, &parked, gate] {
      {
        std::lock_guard<std::mutex> guard(ids_lock);
        parked_ids.push_back(goro::goroutine_id());
      }
      parked.done();
      gate.recv();
    };
    for (int i = 0; i < parked_count / 2; ++i) rt.go(park_one);
    rt.go([&park_one] {
      for (int i = 0; i < parked_count / 2; ++i) goro::go(park_one);
    });
    parked.wait();
    std::sort(parked_ids.begin(), parked_ids.end());

    // Churn on every worker: short goroutines that yield (so that thieves
    // take some and they exit on another worker than the one that started
    // them) while the spawners themselves yield now and then.
    std::atomic<long> ran{0};
    std::atomic<std::size_t> spawners_done{0};
    for (std::size_t w = 0; w < workers; ++w) {
      rt.go([&ran, &spawners_done] {
        for (int i = 0; i < 3000; ++i) {
          goro::go([&ran] {
            goro::yield();
            ran.fetch_add(1, std::memory_order_relaxed);
          });
          if (i % 32 == 0) goro::yield();
        }
        spawners_done.fetch_add(1);
      });
    }

    // Dump until the churn is over (bounded in count).
    int dumps = 0;
    long ran_during_dumps = 0;
    while (dumps < 3000 && (dumps < 5 || spawners_done.load() < workers)) {
      const std::vector<std::uint64_t> ids = dumped_ids(rt);
      ++dumps;
      // Strictly ascending: oldest first, and nobody twice.
      REQUIRE(std::adjacent_find(ids.begin(), ids.end(), [](std::uint64_t a, std::uint64_t b) {
                return a >= b;
              }) == ids.end());
      // The parked ones were alive throughout: every dump has all of them.
      REQUIRE(std::includes(ids.begin(), ids.end(), parked_ids.begin(), parked_ids.end()));
      ran_during_dumps = ran.load();
    }
    INFO("dumps " << dumps << ", churn goroutines that had run by the last one "
                  << ran_during_dumps);
    gate.close();
    rt.wait();
    CHECK(ran.load() == 3000 * static_cast<long>(workers));
    CHECK(dumped_ids(rt).empty());
  }
}

TEST_CASE("registry: the census counts goroutines started from threads and goroutines",
          "[monitor][registry]") {
  goro::runtime_options o;
  o.workers = 3;
  goro::runtime rt(o);
  auto gate = goro::make_chan<int>();
  goro::wait_group started;
  started.add(30);
  for (int i = 0; i < 10; ++i) {
    rt.go([gate, &started] {
      started.done();
      gate.recv();
    });
  }
  rt.go([gate, &started] {
    for (int i = 0; i < 20; ++i) {
      goro::go([gate, &started] {
        started.done();
        gate.recv();
      });
    }
  });
  started.wait();
  // The starter may still be finishing: 30 or 31 goroutines.
  const std::size_t n = dumped_ids(rt).size();
  CHECK(n >= 30);
  CHECK(n <= 31);
  gate.close();
  rt.wait();
  CHECK(dumped_ids(rt).empty());
}

namespace {

/// A record for the registry driven directly, standing for a goroutine and
/// its stack: `slot` is its stack's; `live` is 1 from before it is
/// published until after it is removed.
struct record {
  std::atomic<int> live{0};
  goro::detail::basic_registry<record>::slot* slot = nullptr;
};

using registry = goro::detail::basic_registry<record>;

/// Drives a registry as a runtime would: `workers` threads (and one thread
/// on the shared path) publish records and hand them to a random thread,
/// which removes them; now and then a thread gives a free record's slot
/// back and takes a new one (a stack unmapped, another mapped); meanwhile a
/// freezer walks the table.
struct registry_drive {
  static constexpr std::size_t workers = 3;
  static constexpr std::size_t records = 600;
  static constexpr std::size_t pinned = 8;

  explicit registry_drive(bool expedited)
      : reg(workers, expedited), pool(records), queues(workers + 1) {
    std::vector<registry::slot*> slots(records);
    reg.take(slots.data(), records);
    for (std::size_t i = 0; i < records; ++i) pool[i].slot = slots[i];
    for (std::size_t i = pinned; i < records; ++i) free_records.push_back(&pool[i]);
  }

  registry reg;
  std::vector<record> pool;
  std::mutex lock;  ///< guards free_records and queues
  std::vector<record*> free_records;
  std::vector<std::deque<record*>> queues;  ///< per thread: records it is to remove
  std::atomic<bool> stop{false};
  std::atomic<long> operations{0};
  std::atomic<long> dead_seen{0};       ///< a walk met a record that was not live
  std::atomic<long> changed_frozen{0};  ///< a record seen changed before the thaw
  std::atomic<long> duplicates{0};
  std::atomic<long> pinned_missing{0};
  long walks = 0;

  /// Thread `t` (t == workers: the shared path).
  void run_thread(std::size_t t) {
    const std::size_t w = t < workers ? t : registry::outside;
    std::minstd_rand rng(static_cast<unsigned>(t) + 1);
    while (!stop.load(std::memory_order_relaxed)) {
      record* r = nullptr;
      bool removing = false;
      {
        std::lock_guard<std::mutex> guard(lock);
        if (!queues[t].empty() && (rng() % 2 == 0 || free_records.empty())) {
          r = queues[t].front();
          queues[t].pop_front();
          removing = true;
        } else if (!free_records.empty()) {
          r = free_records.back();
          free_records.pop_back();
        }
      }
      if (r == nullptr) {
        std::this_thread::yield();
      } else if (removing) {
        reg.remove(r->slot, w);
        r->live.store(0, std::memory_order_relaxed);
        std::lock_guard<std::mutex> guard(lock);
        free_records.push_back(r);
      } else if (rng() % 16 == 0) {  // its stack unmapped, another mapped
        reg.give_back(&r->slot, 1);
        reg.take(&r->slot, 1);
        std::lock_guard<std::mutex> guard(lock);
        free_records.push_back(r);
      } else {
        r->live.store(1, std::memory_order_relaxed);
        registry::publish(r, r->slot);
        std::lock_guard<std::mutex> guard(lock);
        queues[rng() % queues.size()].push_back(r);  // ends on any thread
      }
      operations.fetch_add(1, std::memory_order_relaxed);
    }
  }

  /// One freeze: every record seen is live and stays so until the thaw.
  void walk() {
    registry::freeze frozen(reg);
    std::vector<record*> seen;
    reg.each([&](record* r) {
      seen.push_back(r);
      return true;
    });
    for (record* r : seen) {
      if (r->live.load(std::memory_order_relaxed) != 1) dead_seen.fetch_add(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));  // the others try meanwhile
    for (record* r : seen) {
      if (r->live.load(std::memory_order_relaxed) != 1) changed_frozen.fetch_add(1);
    }
    std::sort(seen.begin(), seen.end());
    if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) duplicates.fetch_add(1);
    for (std::size_t i = 0; i < pinned; ++i) {
      if (!std::binary_search(seen.begin(), seen.end(), &pool[i])) pinned_missing.fetch_add(1);
    }
    ++walks;
  }
};

void drive_registry(bool expedited) {
  registry_drive d(expedited);
  // Pinned records, published from the shared path and never removed.
  for (std::size_t i = 0; i < registry_drive::pinned; ++i) {
    d.pool[i].live.store(1);
    registry::publish(&d.pool[i], d.pool[i].slot);
  }
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t <= registry_drive::workers; ++t) {
    threads.emplace_back([&d, t] { d.run_thread(t); });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((d.walks < 400 || d.operations.load() < 400000) &&
         std::chrono::steady_clock::now() < deadline) {
    d.walk();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  d.stop.store(true);
  for (auto& t : threads) t.join();
  INFO("walks " << d.walks << ", operations " << d.operations.load());
  CHECK(d.walks >= 20);
  CHECK(d.operations.load() >= 20000);
  CHECK(d.dead_seen.load() == 0);
  CHECK(d.changed_frozen.load() == 0);
  CHECK(d.duplicates.load() == 0);
  CHECK(d.pinned_missing.load() == 0);

  // Quiet now: exactly the pinned records and the ones still queued.
  std::size_t queued = 0;
  for (auto& q : d.queues) queued += q.size();
  std::size_t listed = 0;
  std::uint32_t high_water = 0;
  {
    registry::freeze frozen(d.reg);
    d.reg.each([&](record* r) {
      listed += r->live.load() == 1 ? 1 : 0;
      return true;
    });
    high_water = d.reg.high_water();
  }
  CHECK(listed == registry_drive::pinned + queued);
  // Slots given back are reused: the table holds the records' slots and at
  // most the rest of one fresh batch, however many were given back.
  CHECK(high_water <= registry_drive::records + 64);
}

}  // namespace

TEST_CASE("registry: the slot table, driven directly, with the membarrier handshake",
          "[registry]") {
  INFO("membarrier available: " << goro::detail::asymmetric_fence::expedited());
  drive_registry(goro::detail::asymmetric_fence::expedited());
}

TEST_CASE("registry: the slot table, driven directly, with plain fences", "[registry]") {
  drive_registry(false);
}
