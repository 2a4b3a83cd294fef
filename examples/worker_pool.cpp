// worker_pool: bounded parallelism with a fixed number of workers.
//
// The Go pattern it mirrors ("Go by Example: Worker Pools", plus a WaitGroup
// to close the results channel):
//
//   jobs := make(chan Job, numJobs)
//   results := make(chan Result, numJobs)
//   for w := 1; w <= k; w++ { wg.Add(1); go worker(w, jobs, results, &wg) }
//   for j := 1; j <= numJobs; j++ { jobs <- Job{j} }
//   close(jobs)
//   go func() { wg.Wait(); close(results) }()
//   for r := range results { ... }
//
// However many jobs there are, at most k run at once: the parallelism is
// bounded by the number of goroutines reading `jobs`, not by the work.
// Results arrive in completion order, so each carries its job's id and main
// sorts them before printing.
//
// Usage: worker_pool [jobs] [workers]   (defaults: 12 jobs, 3 workers)
#include "goro.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct job {
  int id;
};

struct result {
  int id;
  long value;
};

// How many jobs are being worked on right now, and the most ever seen.
struct load_meter {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};

  void enter() {
    const int n = now.fetch_add(1) + 1;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

// func worker(jobs <-chan Job, results chan<- Result, wg *sync.WaitGroup)
void worker(goro::recv_chan<job> jobs, goro::send_chan<result> results,
            std::shared_ptr<goro::wait_group> wg, std::shared_ptr<load_meter> load) {
  for (job j : jobs) {  // until jobs is closed and drained
    load->enter();
    goro::sleep_for(5ms);  // time.Sleep: stands for real work; parks, does not block the thread
    const long value = static_cast<long>(j.id) * j.id;
    load->leave();
    results.send(result{j.id, value});
  }
  wg->done();
}

}  // namespace

int main(int argc, char** argv) {
  const int num_jobs = argc > 1 ? std::atoi(argv[1]) : 12;
  const int num_workers = argc > 2 ? std::atoi(argv[2]) : 3;
  if (num_jobs <= 0 || num_workers <= 0) {
    std::fprintf(stderr, "usage: %s [jobs > 0] [workers > 0]\n", argv[0]);
    return 2;
  }

  // Buffered so that main can queue every job without waiting for workers.
  auto jobs = goro::make_chan<job>(static_cast<std::size_t>(num_jobs));
  auto results = goro::make_chan<result>(static_cast<std::size_t>(num_jobs));
  // Shared ownership, so the closing goroutine below may outlive main's scope.
  auto wg = std::make_shared<goro::wait_group>();
  auto load = std::make_shared<load_meter>();

  for (int w = 1; w <= num_workers; ++w) {
    wg->add(1);  // wg.Add(1) before `go`, never inside the goroutine
    goro::go(worker, jobs, results, wg, load);
  }
  for (int j = 1; j <= num_jobs; ++j) jobs.send(job{j});
  jobs.close();  // the workers' range loops end once the queue is drained

  // go func() { wg.Wait(); close(results) }(): the one place that knows when
  // the last worker has sent its last result.
  goro::go(
      [wg](goro::send_chan<result> results) {
        wg->wait();
        results.close();
      },
      results);

  std::vector<result> collected;
  for (result r : results) collected.push_back(r);
  std::sort(collected.begin(), collected.end(),
            [](const result& a, const result& b) { return a.id < b.id; });

  for (const result& r : collected) std::printf("job %d -> %ld\n", r.id, r.value);
  std::printf("%zu results from %d workers, at most %d jobs ran at once (limit %d)\n",
              collected.size(), num_workers, load->peak.load(), num_workers);
  const bool ok =
      collected.size() == static_cast<std::size_t>(num_jobs) && load->peak.load() <= num_workers;
  std::printf("%s\n", ok ? "bounded: ok" : "bounded: FAILED");
  return ok ? 0 : 1;
}
