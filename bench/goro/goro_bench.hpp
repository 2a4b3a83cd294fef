// goro_bench.hpp: how every goro benchmark starts.
//
// run_main(argc, argv, body) makes a goro::runtime with the worker count of
// argv[1] (or GORO_WORKERS, else one per hardware thread), starts body as its
// first goroutine, the counterpart of Go's main goroutine, and waits for the
// runtime to finish. body receives the peer name, "goro-<workers>".
#ifndef GORO_BENCH_GORO_BENCH_HPP
#define GORO_BENCH_GORO_BENCH_HPP

#include <string>

#include <goro/goro.hpp>

#include "bench_common.hpp"

namespace bench {

template <class Body>
int run_goro_main(int argc, char** argv, Body body) {
  unsigned workers = workers_arg(argc, argv, "GORO_WORKERS", hardware_threads());
  goro::runtime_options options;
  options.workers = workers;
  goro::runtime rt(options);
  rt.go([body, peer = "goro-" + std::to_string(workers)] { body(peer); });
  rt.wait();
  return 0;
}

}  // namespace bench

#endif  // GORO_BENCH_GORO_BENCH_HPP
