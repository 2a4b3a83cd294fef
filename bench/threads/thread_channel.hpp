// thread_channel.hpp: the std::thread peer's stand-ins for goroutine tools,
// built only from std::mutex and std::condition_variable, the way a C++
// program without a goroutine library would write them.
//
//   bounded_queue<T>  a channel: FIFO of fixed capacity with close(). There is
//                     no unbuffered hand-off; capacity 1 stands in for Go's
//                     unbuffered channel (the sender does not wait for the
//                     receiver to take the value, only for room).
//   wait_group        Go's sync.WaitGroup: an atomic count, the mutex and
//                     condition variable are touched only when it reaches 0.
//   select_hub        what lets one thread wait on several queues at once
//                     (W4): every push or close on an attached queue bumps a
//                     sequence number and wakes the waiting consumer, which
//                     then polls the queues.
//   task_pool         a fixed pool of threads taking std::function tasks
//                     from one mutex + condition-variable queue (W1).
#ifndef GORO_BENCH_THREAD_CHANNEL_HPP
#define GORO_BENCH_THREAD_CHANNEL_HPP

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace bench {

/// Lets one consumer sleep until any of several queues changes (W4).
class select_hub {
 public:
  /// The current sequence number; take it before polling the queues.
  std::uint64_t sequence() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sequence_;
  }
  /// Blocks until something was pushed or closed after `seen` was taken.
  void wait_change(std::uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return sequence_ != seen; });
  }
  /// Called by a queue after each push and on close.
  void notify() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++sequence_;
    }
    changed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t sequence_ = 0;
};

/// A closable FIFO of fixed capacity. Invariant: items_.size() <= capacity_.
template <class T>
class bounded_queue {
 public:
  explicit bounded_queue(std::size_t capacity, select_hub* hub = nullptr)
      : capacity_(capacity), hub_(hub) {}

  /// Blocks while full; throws std::logic_error once closed (Go panics).
  void push(T value) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
      if (closed_) throw std::logic_error("push on a closed queue");
      items_.push_back(std::move(value));
    }
    not_empty_.notify_one();
    if (hub_ != nullptr) hub_->notify();
  }

  /// Blocks while empty; nullopt once closed and drained.
  std::optional<T> pop() {
    std::optional<T> value;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
      if (items_.empty()) return std::nullopt;
      value.emplace(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_one();
    return value;
  }

  enum class poll { got, empty, closed };

  /// Never blocks: takes a value if there is one.
  poll try_pop(T& out) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (items_.empty()) return closed_ ? poll::closed : poll::empty;
      out = std::move(items_.front());
      items_.pop_front();
    }
    not_full_.notify_one();
    return poll::got;
  }

  /// Wakes every waiter: receivers drain what is left, then see the end.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    if (hub_ != nullptr) hub_->notify();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
  select_hub* hub_;
};

/// Go's sync.WaitGroup for threads. Must outlive every done() call.
class wait_group {
 public:
  void add(long n) { count_.fetch_add(n, std::memory_order_relaxed); }
  void done() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      zero_.notify_all();
    }
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    zero_.wait(lock, [&] { return count_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::atomic<long> count_{0};
  std::mutex mutex_;
  std::condition_variable zero_;
};

/// A fixed pool of threads sharing one unbounded task queue.
class task_pool {
 public:
  explicit task_pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~task_pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !tasks_.empty() || stopping_; });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace bench

#endif  // GORO_BENCH_THREAD_CHANNEL_HPP
