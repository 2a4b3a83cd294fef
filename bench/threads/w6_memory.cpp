// W6 for std::thread: 10,000 threads (not 100,000: that many OS threads is
// not a thing one does) parked on one condition variable. The extra metric
// is the growth of the resident set per thread: the touched part of each
// thread's stack plus its TLS and allocator state. Kernel memory per thread
// (kernel stack, task_struct: roughly 20 KB more) is not in the resident set.
// The time covers creating them until all have started, then waking them
// all and joining.
#include <vector>

#include "bench_common.hpp"
#include "thread_channel.hpp"

int main() {
  std::mutex mutex;
  std::condition_variable gate_open;
  bool open = false;
  bench::wait_group started;
  std::vector<std::thread> threads;
  threads.reserve(bench::w6_threads);
  std::int64_t before = bench::resident_bytes();
  std::int64_t start = bench::now_ns();
  started.add(bench::w6_threads);
  for (long i = 0; i < bench::w6_threads; ++i) {
    threads.emplace_back([&] {
      started.done();
      std::unique_lock<std::mutex> lock(mutex);
      gate_open.wait(lock, [&] { return open; });
    });
  }
  started.wait();
  std::int64_t after = bench::resident_bytes();
  {
    std::lock_guard<std::mutex> lock(mutex);
    open = true;
  }
  gate_open.notify_all();
  for (auto& t : threads) t.join();
  std::int64_t elapsed = bench::now_ns() - start;
  if (before < 0 || after < 0) bench::fail("W6", "cannot read /proc/self/statm");
  bench::print_result("W6", "threads", elapsed,
                      static_cast<double>(after - before) / bench::w6_threads);
}
