// graceful_shutdown: stop a pool of workers on SIGINT/SIGTERM or a timer.
//
// The Go program it mirrors:
//
//   sigs := make(chan os.Signal, 1)
//   signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
//   done := make(chan struct{})
//   for i := 0; i < 3; i++ {
//       go func() {
//           for {
//               select {
//               case j := <-jobs: handle(j)
//               case <-done:      return      // close(done) reaches every worker
//               }
//           }
//       }()
//   }
//   select { case <-sigs: case <-time.After(runTime): }
//   close(done)
//   wg.Wait()
//
// Go's runtime turns signals into channel sends for you (signal.Notify). Here
// a plain thread does it: SIGINT and SIGTERM are blocked in every thread, so
// they stay pending until that thread takes them with sigwait() and sends
// them on a channel. Nothing runs in a signal handler, so nothing has to be
// async-signal-safe.
//
// Usage: graceful_shutdown [run time in ms] [--self-signal]
//   Runs until the time is up (default 200 ms) or until SIGINT/SIGTERM
//   (press Ctrl-C, with a long run time). --self-signal sends the process
//   SIGINT after 100 ms (the run time then defaults to 10 s), to exercise the
//   signal path without a terminal.
#include "goro.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct counters {
  std::atomic<long> produced{0};
  std::atomic<long> finished{0};
};

// Sends job numbers until shutdown, then closes `jobs` (it is the only sender).
void producer(goro::send_chan<long> jobs, goro::recv_chan<bool> done, counters* count,
              goro::wait_group* wg) {
  for (long n = 1;; ++n) {
    bool stop = false;
    // select { case jobs <- n: case <-done: }: a producer blocked on a full
    // queue must still hear the shutdown.
    goro::select(goro::case_send(jobs, n, [count] { ++count->produced; }),
                 goro::case_recv(done, [&stop] { stop = true; }));
    if (stop) break;
  }
  jobs.close();
  wg->done();
}

void worker(int id, goro::recv_chan<long> jobs, goro::recv_chan<bool> done, counters* count,
            goro::wait_group* wg) {
  long mine = 0;
  for (bool stop = false; !stop;) {
    // When both are ready, select picks at random, so a worker may take a
    // few more jobs after shutdown starts; each job it takes it finishes.
    goro::select(goro::case_recv(jobs,
                                 [&](std::optional<long> job) {
                                   if (!job) {  // closed and drained
                                     stop = true;
                                     return;
                                   }
                                   goro::sleep_for(2ms);  // the work; parks, frees the thread
                                   ++mine;
                                   ++count->finished;
                                 }),
                 goro::case_recv(done, [&stop] { stop = true; }));
  }
  std::printf("worker %d stopped after %ld jobs\n", id, mine);
  wg->done();
}

}  // namespace

int main(int argc, char** argv) {
  long run_ms = 0;
  bool self_signal = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--self-signal") == 0) {
      self_signal = true;
    } else if ((run_ms = std::atol(argv[i])) <= 0) {
      std::fprintf(stderr, "usage: %s [run time in ms] [--self-signal]\n", argv[0]);
      return 2;
    }
  }
  // With --self-signal the signal must win, so the timer only backs it up.
  if (run_ms == 0) run_ms = self_signal ? 10000 : 200;

  // First thing, before goro starts its worker threads: they inherit this
  // mask, so no thread but the sigwait() one below ever takes these signals.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  // signal.Notify(sigs, SIGINT, SIGTERM), by hand.
  auto sigs = goro::make_chan<int>(1);
  std::thread signal_thread(
      [&shutdown_signals](goro::send_chan<int> sigs) {
        int sig = 0;
        if (sigwait(&shutdown_signals, &sig) == 0) (void)sigs.try_send(sig);
      },
      sigs);

  auto jobs = goro::make_chan<long>(16);
  auto done = goro::make_chan<bool>();  // never sent on; close(done) is the broadcast
  counters count;
  goro::wait_group wg;
  wg.add(4);
  goro::go(producer, jobs, done, &count, &wg);
  for (int id = 1; id <= 3; ++id) goro::go(worker, id, jobs, done, &count, &wg);

  if (self_signal) {
    goro::go([] {
      goro::sleep_for(100ms);
      kill(getpid(), SIGINT);  // to the process, as Ctrl-C would
    });
  }

  // select { case s := <-sigs: case <-time.After(runTime): }
  goro::timer run_time{std::chrono::milliseconds(run_ms)};
  std::string reason;
  goro::select(
      goro::case_recv(
          sigs, [&](std::optional<int> sig) { reason = *sig == SIGINT ? "SIGINT" : "SIGTERM"; }),
      goro::case_recv(run_time.chan(),
                      [&] { reason = "timer (" + std::to_string(run_ms) + " ms)"; }));
  std::printf("shutdown: %s\n", reason.c_str());

  done.close();  // every select waiting on done wakes up
  wg.wait();     // wg.Wait(): workers finish the job in hand, then return

  // The producer closed jobs on its way out; what is left was never started.
  long never_started = 0;
  for (long job : jobs) {
    (void)job;
    ++never_started;
  }

  // If the timer won, the signal thread still sits in sigwait(): wake it
  // with a signal aimed at it alone (it is still joinable, so its id is valid).
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();

  const long produced = count.produced.load(), finished = count.finished.load();
  std::printf("jobs: %ld produced, %ld finished, %ld never started\n", produced, finished,
              never_started);
  const bool ok = produced == finished + never_started && finished > 0;
  std::printf("%s\n", ok ? "every job accounted for" : "JOBS LOST");
  std::printf("all workers stopped\n");
  return ok ? 0 : 1;
}
