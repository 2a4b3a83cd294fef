// goro.hpp for the benchmarks that compile an example (W9 builds
// examples/http_server.cpp): the examples include the single header as
// "goro.hpp"; the benchmarks measure the modular headers of this tree.
#ifndef GORO_BENCH_AS_SINGLE_GORO_HPP
#define GORO_BENCH_AS_SINGLE_GORO_HPP
#include <goro/goro.hpp>
#endif
