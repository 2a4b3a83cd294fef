// The pieces of the two-translation-unit + shared-library drop-in test.
// Every file includes goro itself; if the context switch emitted a strong
// symbol per translation unit, linking these together would fail.
#ifndef GORO_DROPIN_SHARED_HPP
#define GORO_DROPIN_SHARED_HPP
#include "goro_any.hpp"

// shared_lib.cpp, built into libgoro_dropin.so: starts its own goroutines.
long lib_sum_of_squares(int n);        // 1^2 + ... + n^2, computed by a goroutine pipeline
goro::chan<int> lib_countdown(int n);  // a channel fed n, n-1, ..., 1 by a goroutine, then closed

// shared_tu.cpp, a second translation unit of the executable.
void tu_produce(goro::chan<int> out, int n, int value);  // sends value n times, then closes
long tu_drain(goro::chan<int> in);                       // sums everything received until closed

#endif
