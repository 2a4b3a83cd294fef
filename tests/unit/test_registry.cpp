// The runtime's registry of live goroutines (detail/g_registry.hpp, a shard
// per worker): a goroutine dump lists every live goroutine exactly once,
// oldest first, while goroutines start and exit on every worker, migrate
// between workers and are started from outside the runtime.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <sstream>
#include <string>
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
