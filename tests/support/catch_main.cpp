// Catch2's main(), compiled once per build and linked into every unit test.
#if __has_include(<catch2/catch_session.hpp>)
// Catch2 v3: the library is compiled; supply only main().
#include <catch2/catch_session.hpp>

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
#else
// Catch2 v2: the single header defines main() in exactly one translation unit.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
