// The one header every unit test includes: the test framework through its shim,
// and goro in the form this build tests (the modular headers, or the amalgamated
// single header when GORO_TEST_SINGLE_HEADER is defined).
#ifndef GORO_TEST_SUPPORT_GORO_TEST_HPP
#define GORO_TEST_SUPPORT_GORO_TEST_HPP

#if defined(GORO_TEST_SINGLE_HEADER)
#include <goro.hpp>
#define GORO_TEST_INCLUDED_SINGLE_HEADER 1
#else
#include <goro/goro.hpp>
#endif

#include "catch.hpp"

#endif

// Outside the include guard, so that every inclusion checks it: the goro this
// file included (perhaps into a precompiled header made for the other form)
// is the form this translation unit claims to test. Both forms share their
// include guards, so a mismatch would otherwise compile without a word.
#if defined(GORO_TEST_SINGLE_HEADER) != defined(GORO_TEST_INCLUDED_SINGLE_HEADER)
#error "goro_test.hpp: goro's other form was included (the other form's precompiled header?)"
#endif
