// Limits and misuse messages (issue 13, defects 6 and 10): every counter and
// size a user gives goro is checked, and a value out of range gets an error
// that names it, never a wrapped counter, signed overflow, or an error from
// deep inside (a vector's length, a stack mapping). Each check below failed
// before its fix: the semaphore wrapped to -2^31 permits and then refused
// every acquire; wait_group::add(INT64_MAX) was signed overflow
// (UBSan) and in plain builds said "negative counter"; errgroup, make_chan
// and runtime_options reported errors that named something else, or none
// (a runtime with SIZE_MAX stack_size started, and every go() then threw
// bad_alloc); deleting a runtime from its own goroutine printed the message
// of runtime::wait().
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <climits>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("limits: a semaphore refuses a release beyond 2^31 - 1 free permits", "[limits][sync]") {
  goro::semaphore s(INT32_MAX - 1);
  s.release();  // INT32_MAX now: the most it holds
  CHECK_THROWS_AS(s.release(), std::overflow_error);
  CHECK(goro_test::contains(error_of([&] { s.release(); }), "goro::semaphore"));
  // Nothing was lost: the permits are all there, and acquiring still works.
  CHECK(s.try_acquire());
  s.release();
  CHECK_THROWS_AS(s.release(), std::overflow_error);
  for (int i = 0; i < 1000; ++i) REQUIRE(s.try_acquire());
  for (int i = 0; i < 1000; ++i) s.release();

  goro::semaphore empty(0);
  CHECK_FALSE(empty.try_acquire());
  empty.release();
  CHECK(empty.try_acquire());
}

TEST_CASE("limits: wait_group::add out of range throws and changes nothing", "[limits][sync]") {
  goro::wait_group wg;
  wg.add(1);
  CHECK(goro_test::contains(error_of([&] { wg.add(INT64_MAX); }), "counter overflow"));
  CHECK(goro_test::contains(error_of([&] { wg.add(INT32_MAX); }), "counter overflow"));
  CHECK(goro_test::contains(error_of([&] { wg.add(INT64_MIN); }), "negative counter"));
  CHECK(goro_test::contains(error_of([&] { wg.add(-2); }), "negative counter"));
  CHECK(wg.count() == 1);
  wg.add(INT32_MAX - 1);
  CHECK(wg.count() == INT32_MAX);
  CHECK_THROWS_AS(wg.add(1), std::logic_error);
  wg.add(-std::int64_t{INT32_MAX});
  CHECK(wg.count() == 0);
  wg.wait();
}

TEST_CASE("limits: errgroup limits and channel capacities out of range name themselves",
          "[limits]") {
  goro::errgroup g;
  const std::string limit = error_of([&] { g.set_limit(std::ptrdiff_t{INT32_MAX} + 1); });
  CHECK(goro_test::contains(limit, "goro::errgroup"));
  g.set_limit(INT32_MAX);  // the largest is fine
  g.set_limit(-1);

  const std::string cap = error_of([] { goro::make_chan<int>(SIZE_MAX); });
  CHECK(goro_test::contains(cap, "goro::make_chan"));
  CHECK_THROWS_AS(goro::make_chan<int>(SIZE_MAX / 2), std::length_error);
  CHECK_THROWS_AS(goro::make_chan<char>(SIZE_MAX), std::length_error);
}

TEST_CASE("limits: absurd runtime options are refused by the constructor", "[limits][runtime]") {
  goro::runtime_options many;
  many.workers = SIZE_MAX;
  CHECK_THROWS_AS(goro::runtime(many), std::invalid_argument);
  CHECK(goro_test::contains(error_of([&] { goro::runtime rt(many); }), "workers"));
  many.workers = 4097;
  CHECK_THROWS_AS(goro::runtime(many), std::invalid_argument);

  // The byte sizes, each at most 1 TiB; the error names the field.
  using bytes_field = std::size_t goro::runtime_options::*;
  const std::pair<bytes_field, const char*> sizes[] = {
      {&goro::runtime_options::stack_size, "stack_size"},
      {&goro::runtime_options::stack_guard, "stack_guard"}};
  for (const auto& [field, name] : sizes) {
    INFO(name);
    goro::runtime_options huge;
    huge.workers = 1;
    huge.*field = SIZE_MAX;
    CHECK(goro_test::contains(error_of([&] { goro::runtime rt(huge); }), name));
    huge.*field = (std::size_t{1} << 40) + 1;
    CHECK_THROWS_AS(goro::runtime(huge), std::invalid_argument);
  }
}

TEST_CASE("limits: deleting a runtime from its own goroutine is a fatal error that says so",
          "[limits][runtime][death]") {
  const auto r =
      goro_test::run_program(goro_test::program_path("runtime_destroyed_by_own_goroutine"));
  INFO(r.describe());
  CHECK(r.signal == SIGABRT);
  CHECK_FALSE(goro_test::contains(r.out, "still alive"));
  CHECK(goro_test::contains(
      r.err, "goro: fatal error: goro::runtime destroyed by one of its own goroutines"));
}
