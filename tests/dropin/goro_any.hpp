// Includes goro the way the test asked for: the amalgamated header (the
// default, as a user who dropped goro.hpp into their tree would) or, with
// -DDROPIN_MODULAR, the modular headers.
#ifndef GORO_DROPIN_GORO_ANY_HPP
#define GORO_DROPIN_GORO_ANY_HPP
#if defined(DROPIN_MODULAR)
#include <goro/goro.hpp>
#else
#include "goro.hpp"
#endif
#endif
