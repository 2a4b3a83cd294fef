// goro-test: labels=model timeout=300 bundle=false
// (Its own executable, unit_model: tools/dev soak and docs/reliability.md run it by name.)
//
// The model-checked random tester (tests/support/model_program.hpp): random
// programs of goroutines and threads on a few channels, each run checked
// against channel semantics, at 1, 2, 4 and 8 workers.
//
// Environment:
//   GORO_MODEL_SECONDS=S   total time to spend (default 4; tools/dev soak sets more)
//   GORO_MODEL_SEED=N      replay the program of seed N (decimal or 0x hex) instead
//                          of random seeds, GORO_MODEL_RUNS times (default 50)
//   GORO_MODEL_WORKERS=W   only this worker count (default: 1, 2, 4 and 8)
// A failure prints its seed, worker count and program, and the line to replay it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include "model_program.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

std::optional<std::uint64_t> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 0);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

struct totals {
  std::uint64_t programs = 0;
  std::uint64_t operations = 0;
  std::uint64_t failures = 0;
};

/// Runs one seed's program on `rt`; reports a failure with everything needed to replay it.
bool run_seed(goro::runtime& rt, std::size_t workers, std::uint64_t seed, totals& t) {
  goro_model::entropy e(seed);
  const goro_model::program p = goro_model::generate(e);
  goro_model::run_result r = goro_model::run(p, rt);
  ++t.programs;
  t.operations += r.operations;
  if (r.violations.empty()) return true;
  ++t.failures;
  char seed_text[32];
  std::snprintf(seed_text, sizeof seed_text, "0x%016llx", static_cast<unsigned long long>(seed));
  std::string report = std::string("goro model: FAILED seed ") + seed_text + " at " +
                       std::to_string(workers) +
                       " workers\n  replay: GORO_MODEL_SEED=" + seed_text +
                       " GORO_MODEL_WORKERS=" + std::to_string(workers) + " <this test>\n";
  for (const std::string& v : r.violations) report += "  violation: " + v + "\n";
  report += "  program: " + goro_model::describe(p);
  std::fprintf(stderr, "%s", report.c_str());
  std::fflush(stderr);
  if (r.hung) {
    // Actors are still blocked on objects of this run: nothing can continue.
    std::fprintf(stderr, "goro model: a run hung; aborting\n");
    std::abort();
  }
  FAIL_CHECK(report);
  return false;
}

}  // namespace

TEST_CASE("model: random programs keep channel semantics at 1, 2, 4 and 8 workers", "[random]") {
  std::vector<std::size_t> worker_counts{1, 2, 4, 8};
  if (auto w = env_number("GORO_MODEL_WORKERS")) worker_counts = {*w};
  totals t;
  const auto begun = std::chrono::steady_clock::now();

  if (auto seed = env_number("GORO_MODEL_SEED")) {
    const std::uint64_t runs = env_number("GORO_MODEL_RUNS").value_or(50);
    for (std::size_t workers : worker_counts) {
      goro::runtime_options o;
      o.workers = workers;
      goro::runtime rt(o);
      for (std::uint64_t i = 0; i < runs; ++i) run_seed(rt, workers, *seed, t);
    }
  } else {
    const double seconds = static_cast<double>(env_number("GORO_MODEL_SECONDS").value_or(4));
    const auto per_count =
        std::chrono::duration<double>(seconds / static_cast<double>(worker_counts.size()));
    std::random_device rd;
    std::uint64_t next_seed = (std::uint64_t{rd()} << 32) ^ rd();
    for (std::size_t workers : worker_counts) {
      goro::runtime_options o;
      o.workers = workers;
      goro::runtime rt(o);
      const auto until = std::chrono::steady_clock::now() + per_count;
      // At least a few programs per count even on a very slow machine; stop
      // early after a few failures (each is reported in full).
      for (int n = 0; (n < 5 || std::chrono::steady_clock::now() < until) && t.failures < 5; ++n)
        run_seed(rt, workers, next_seed++, t);
    }
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count();
  // One line tools/dev soak reads.
  std::printf("goro model: %llu programs, %llu operations, %llu failures, %.1f s\n",
              static_cast<unsigned long long>(t.programs),
              static_cast<unsigned long long>(t.operations),
              static_cast<unsigned long long>(t.failures), took);
  std::fflush(stdout);
  CHECK(t.programs > 0);
  CHECK(t.failures == 0);
}

TEST_CASE("model: the checker catches a lost value, a duplicate and a FIFO inversion") {
  // The checker itself must be able to fail: feed it logs that break each rule.
  goro_model::program p;
  p.capacities = {1};
  p.actors.resize(1);
  auto make = [](goro_model::event_kind k, goro_model::outcome o, std::uint64_t v,
                 std::uint64_t s) {
    goro_model::event e;
    e.kind = k;
    e.result = o;
    e.value = v;
    e.start = s;
    e.end = s + 1;
    return e;
  };
  using goro_model::event_kind;
  using goro_model::outcome;
  const std::uint64_t v0 = goro_model::make_value(0, 0, 0);
  const std::uint64_t v1 = goro_model::make_value(0, 0, 1);
  auto base = [&]() {
    goro_model::run_result r;
    r.logs.resize(2);
    r.logs[0].push_back(make(event_kind::send, outcome::ok, v0, 0));
    r.logs[0].push_back(make(event_kind::send, outcome::ok, v1, 2));
    r.logs[1].push_back(make(event_kind::close, outcome::ok, 0, 10));
    return r;
  };
  {
    goro_model::run_result r = base();
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v0, 12));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v1, 14));
    goro_model::check_run(p, r);
    CHECK(r.violations.empty());
  }
  {
    goro_model::run_result r = base();
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v0, 12));
    goro_model::check_run(p, r);
    CHECK(r.violations.size() == 1);  // v1 lost
  }
  {
    goro_model::run_result r = base();
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v1, 12));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v0, 14));
    goro_model::check_run(p, r);
    CHECK(r.violations.size() == 1);  // FIFO
  }
  {
    goro_model::run_result r = base();
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v0, 12));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v1, 14));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v1, 16));
    goro_model::check_run(p, r);
    CHECK_FALSE(r.violations.empty());  // received twice
  }
  {
    goro_model::run_result r = base();
    r.logs[1].push_back(make(event_kind::recv, outcome::closed, 0, 12));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v0, 14));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v1, 16));
    goro_model::check_run(p, r);
    CHECK_FALSE(r.violations.empty());  // values after closed-and-drained
  }
  {
    goro_model::run_result r = base();
    r.logs[0].push_back(make(event_kind::send, outcome::ok, goro_model::make_value(0, 0, 2), 20));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v0, 12));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, v1, 14));
    r.logs[1].push_back(make(event_kind::recv, outcome::ok, goro_model::make_value(0, 0, 2), 22));
    goro_model::check_run(p, r);
    CHECK_FALSE(r.violations.empty());  // a send after close succeeded
  }
}

TEST_CASE("model: the same seed makes the same program") {
  goro_model::entropy a(12345), b(12345), c(12346);
  const std::string pa = goro_model::describe(goro_model::generate(a));
  CHECK(pa == goro_model::describe(goro_model::generate(b)));
  CHECK(pa != goro_model::describe(goro_model::generate(c)));
  const std::uint8_t bytes[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9};
  goro_model::entropy f1(bytes, sizeof bytes), f2(bytes, sizeof bytes);
  CHECK(goro_model::describe(goro_model::generate(f1)) ==
        goro_model::describe(goro_model::generate(f2)));
}
