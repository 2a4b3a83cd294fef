// errors.hpp: the exceptions goro throws for misuse that Go turns into a panic.
// In a build without exceptions (-fno-exceptions, or GORO_NO_EXCEPTIONS
// defined) goro never throws: each of these errors is instead a fatal error
// ("goro: fatal error: <message>" on stderr, then abort), as Go's panic is.
#ifndef GORO_ERRORS_HPP
#define GORO_ERRORS_HPP

#include "config.hpp"

#include <stdexcept>

namespace goro {

/// Send on a closed channel, or close of a closed channel.
class closed_channel : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Close of a nil channel (a default-constructed goro::chan).
class nil_channel : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace goro

#endif
