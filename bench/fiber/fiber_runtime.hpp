// fiber_runtime.hpp: the Boost.Fiber peer's set-up and a wait group.
//
// fiber_runtime(n) with n > 1 runs fibers M:N on n threads (the main thread
// and n - 1 helpers) under boost::fibers::algo::work_stealing; with n == 1
// the main thread keeps Boost.Fiber's default round_robin scheduler. Create
// it at the top of main, before the first fiber; its destructor lets the
// helpers go once main's work is done. work_stealing keeps its schedulers in
// static storage, so one per process.
#ifndef GORO_BENCH_FIBER_RUNTIME_HPP
#define GORO_BENCH_FIBER_RUNTIME_HPP

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/all.hpp>

namespace bench {

class fiber_runtime {
 public:
  explicit fiber_runtime(unsigned threads) : threads_(threads) {
    if (threads_ < 2) return;
    for (unsigned i = 1; i < threads_; ++i) {
      helpers_.emplace_back([this] {
        join_scheduler();
        // Park this thread's main fiber; the scheduler runs (and steals)
        // other fibers on this thread meanwhile.
        std::unique_lock<boost::fibers::mutex> lock(mutex_);
        finished_cv_.wait(lock, [this] { return finished_; });
      });
    }
    join_scheduler();
  }

  ~fiber_runtime() {
    if (threads_ < 2) return;
    {
      std::lock_guard<boost::fibers::mutex> lock(mutex_);
      finished_ = true;
    }
    finished_cv_.notify_all();
    for (auto& t : helpers_) t.join();
  }

  fiber_runtime(const fiber_runtime&) = delete;
  fiber_runtime& operator=(const fiber_runtime&) = delete;

  /// "fiber-<threads>", the peer's name in RESULT lines.
  std::string peer() const { return "fiber-" + std::to_string(threads_); }

 private:
  /// Installs work_stealing on the calling thread, then waits until every
  /// participating thread has (stealing from a scheduler not yet made is
  /// what the Boost examples guard against with this barrier).
  void join_scheduler() {
    boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(threads_);
    std::unique_lock<std::mutex> lock(start_mutex_);
    if (++joined_ == threads_) {
      start_cv_.notify_all();
    } else {
      start_cv_.wait(lock, [this] { return joined_ == threads_; });
    }
  }

  unsigned threads_;
  std::vector<std::thread> helpers_;
  std::mutex start_mutex_;
  std::condition_variable start_cv_;
  unsigned joined_ = 0;
  boost::fibers::mutex mutex_;
  boost::fibers::condition_variable finished_cv_;
  bool finished_ = false;
};

/// Go's sync.WaitGroup for fibers: an atomic count; the fiber mutex and
/// condition variable are touched only when it reaches 0. Must outlive every
/// done() call (declare it before the fiber_runtime).
class fiber_wait_group {
 public:
  void add(long n) { count_.fetch_add(n, std::memory_order_relaxed); }
  void done() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<boost::fibers::mutex> lock(mutex_);
      zero_.notify_all();
    }
  }
  void wait() {
    std::unique_lock<boost::fibers::mutex> lock(mutex_);
    zero_.wait(lock, [this] { return count_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::atomic<long> count_{0};
  boost::fibers::mutex mutex_;
  boost::fibers::condition_variable zero_;
};

}  // namespace bench

#endif  // GORO_BENCH_FIBER_RUNTIME_HPP
