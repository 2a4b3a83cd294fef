// Helpers shared by the channel, select and time tests. Included after
// goro_test.hpp.
#ifndef GORO_TEST_SUPPORT_TEST_HELPERS_HPP
#define GORO_TEST_SUPPORT_TEST_HELPERS_HPP

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace Catch {
/// Prints op_status values by name in failed assertions.
template <>
struct StringMaker<goro::op_status> {
  static std::string convert(goro::op_status s) {
    switch (s) {
      case goro::op_status::ok:
        return "ok";
      case goro::op_status::full:
        return "full";
      case goro::op_status::empty:
        return "empty";
      case goro::op_status::closed:
        return "closed";
      case goro::op_status::timeout:
        return "timeout";
    }
    return "op_status(?)";
  }
};
}  // namespace Catch

namespace goro_test {

/// Work divisor: sanitizers are slow, so tests do a quarter of the work there.
#if defined(GORO_TSAN) || defined(GORO_ASAN)
inline constexpr int kScale = 4;
#else
inline constexpr int kScale = 1;
#endif

/// What goroutines and threads saw that they should not have; checked on the
/// test thread (Catch2's assertion macros are not thread-safe).
class failures {
 public:
  void add(std::string what) {
    std::lock_guard<std::mutex> lock(m_);
    msgs_.push_back(std::move(what));
  }
  void expect(bool ok, const std::string& what) {
    if (!ok) add(what);
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lock(m_);
    return std::move(msgs_);
  }

 private:
  std::mutex m_;
  std::vector<std::string> msgs_;
};

/// Polls `pred` until it holds or `limit` passes; sleeps between polls (a
/// goroutine parks, a thread sleeps). Returns whether it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = goro::clock::now() + limit;
  while (!pred()) {
    if (goro::clock::now() > deadline) return false;
    goro::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Options for a runtime of n workers.
inline goro::runtime_options workers(std::size_t n) {
  goro::runtime_options o;
  o.workers = n;
  return o;
}

/// took >= want, for any duration type.
template <class D>
bool at_least(goro::clock::duration took, D want) {
  return took >= std::chrono::duration_cast<goro::clock::duration>(want);
}

}  // namespace goro_test

#endif
