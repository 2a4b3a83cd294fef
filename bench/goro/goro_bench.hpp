// goro_bench.hpp: how every goro benchmark starts.
//
// run_main(argc, argv, body) makes a goro::runtime with the worker count of
// argv[1] (or GORO_WORKERS, else one per hardware thread), starts body as its
// first goroutine, the counterpart of Go's main goroutine, and waits for the
// runtime to finish. body receives the peer name, "goro-<workers>".
// GORO_BENCH_STACK_SIZE and GORO_BENCH_STACK_GUARD (bytes), when set, give
// the runtime's stack_size and stack_guard; tools/bench sets neither, so its
// runs use goro's defaults.
#ifndef GORO_BENCH_GORO_BENCH_HPP
#define GORO_BENCH_GORO_BENCH_HPP

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <goro/goro.hpp>

#include "bench_common.hpp"

namespace bench {

/// The byte count in the environment variable `env`, else `fallback`.
inline std::size_t bytes_from_environment(const char* env, std::size_t fallback) {
  const char* text = std::getenv(env);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text, &end, 10);
  if (*end != '\0' || n == 0) {
    std::fprintf(stderr, "bad byte count %s='%s'\n", env, text);
    std::exit(2);
  }
  return static_cast<std::size_t>(n);
}

template <class Body>
int run_goro_main(int argc, char** argv, Body body) {
  unsigned workers = workers_arg(argc, argv, "GORO_WORKERS", hardware_threads());
  goro::runtime_options options;
  options.workers = workers;
  options.stack_size = bytes_from_environment("GORO_BENCH_STACK_SIZE", options.stack_size);
  options.stack_guard = bytes_from_environment("GORO_BENCH_STACK_GUARD", options.stack_guard);
  goro::runtime rt(options);
  rt.go([body, peer = "goro-" + std::to_string(workers)] { body(peer); });
  rt.wait();
  return 0;
}

}  // namespace bench

#endif  // GORO_BENCH_GORO_BENCH_HPP
