// The one place that names Catch2's header: version 3 (<catch2/catch_all.hpp>)
// when it is installed, else version 2's single header (Debian 12 ships 2.13).
// Tests include this through "goro_test.hpp".
#ifndef GORO_TEST_SUPPORT_CATCH_HPP
#define GORO_TEST_SUPPORT_CATCH_HPP

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#endif
