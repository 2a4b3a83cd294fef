// The one header every unit test includes: the test framework through its shim,
// and goro in the form this build tests (the modular headers, or the amalgamated
// single header when GORO_TEST_SINGLE_HEADER is defined).
#ifndef GORO_TEST_SUPPORT_GORO_TEST_HPP
#define GORO_TEST_SUPPORT_GORO_TEST_HPP

#if defined(GORO_TEST_SINGLE_HEADER)
#include <goro.hpp>
#else
#include <goro/goro.hpp>
#endif

#include "catch.hpp"

#endif
