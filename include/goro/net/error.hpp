// net/error.hpp: the exceptions goro::net throws, worded like Go's *net.OpError.
//
// Go prints a failed network operation as
//     <op> <network> [<source>->]<address>: <cause>
// and so do we:
//     "dial tcp 127.0.0.1:1: connect: connection refused"
//     "read tcp 127.0.0.1:4000->127.0.0.1:51234: read: connection reset by peer"
//     "accept tcp 127.0.0.1:4000: accept4: too many open files"
//     "write tcp 127.0.0.1:51234->127.0.0.1:4000: use of closed network connection"
//     "read tcp 127.0.0.1:51234->127.0.0.1:4000: i/o timeout"
// The cause of an OS error is "<system call>: <errno text>" with glibc's text
// lowercased, which is Go's text. The errno itself is kept in code().
#ifndef GORO_NET_ERROR_HPP
#define GORO_NET_ERROR_HPP

#include "../config.hpp"

#include <cctype>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace goro::net {

/// A network operation failed. what() reads like Go's, e.g.
/// "dial tcp 127.0.0.1:1: connect: connection refused"; code() keeps the errno
/// (std::system_category()). The subclasses below mark the outcomes a program
/// usually handles on their own: a passed deadline, a closed handle, an early EOF.
class error : public std::system_error {
 public:
  /// op: "dial", "listen", "accept", "read", "write", "close", "set"; network:
  /// "tcp", "tcp4", "tcp6", "unix"; source/address: the local and the remote (or
  /// listening) address, either may be empty; cause: the text after the colon.
  error(std::string op, std::string network, std::string source, std::string address,
        std::error_code code, std::string cause)
      : std::system_error(code),
        op_(std::move(op)),
        network_(std::move(network)),
        source_(std::move(source)),
        address_(std::move(address)),
        what_(op_) {
    if (!network_.empty()) what_ += " " + network_;
    if (!source_.empty()) what_ += " " + source_;
    if (!address_.empty()) what_ += (source_.empty() ? " " : "->") + address_;
    what_ += ": " + cause;
  }

  /// The whole message, as Go's Error() prints it.
  const char* what() const noexcept override { return what_.c_str(); }
  /// The operation: "dial", "listen", "accept", "read", "write", "close", "set".
  const std::string& op() const noexcept { return op_; }
  /// The network: "tcp", "tcp4", "tcp6" or "unix" (empty for a default-constructed handle).
  const std::string& network() const noexcept { return network_; }
  /// The local address of a connection ("" when it has none or is not known).
  const std::string& source() const noexcept { return source_; }
  /// The remote address of a connection, the address dialed, or the listener's address.
  const std::string& address() const noexcept { return address_; }
  /// True for a passed deadline (timeout_error), like Go's net.Error.Timeout().
  virtual bool timeout() const noexcept { return false; }

 private:
  std::string op_;
  std::string network_;
  std::string source_;
  std::string address_;
  std::string what_;
};

/// A deadline passed ("...: i/o timeout"); code() is ETIMEDOUT. Go's
/// os.ErrDeadlineExceeded. The connection stays usable: set a later deadline
/// (or clear it) and try again.
class timeout_error : public error {
 public:
  timeout_error(std::string op, std::string network, std::string source, std::string address)
      : error(std::move(op), std::move(network), std::move(source), std::move(address),
              std::error_code(ETIMEDOUT, std::system_category()), "i/o timeout") {}
  bool timeout() const noexcept override { return true; }
};

/// Use of a closed listener or connection, or a blocked call woken because
/// another goroutine closed it ("...: use of closed network connection"); Go's
/// net.ErrClosed. code() is EBADF.
class closed_error : public error {
 public:
  closed_error(std::string op, std::string network, std::string source, std::string address)
      : error(std::move(op), std::move(network), std::move(source), std::move(address),
              std::error_code(EBADF, std::system_category()), "use of closed network connection") {}
};

/// conn::read_full met the end of the stream: "...: EOF" when no byte had been
/// read (io.EOF: the peer closed between messages), "...: unexpected EOF" when
/// the stream ended part-way (io.ErrUnexpectedEOF). Not an OS error: code() is 0.
class eof_error : public error {
 public:
  eof_error(std::string network, std::string source, std::string address, bool unexpected)
      : error("read", std::move(network), std::move(source), std::move(address), std::error_code(),
              unexpected ? "unexpected EOF" : "EOF"),
        unexpected_(unexpected) {}
  /// True when some bytes had been read before the end (io.ErrUnexpectedEOF).
  bool unexpected() const noexcept { return unexpected_; }

 private:
  bool unexpected_;
};

namespace detail {

using goro::detail::throw_error;

/// errno's text the way Go prints it: glibc's strerror text with its first
/// letter lowercased ("connection refused", "too many open files").
inline std::string errno_text(int e) {
  std::string s = std::system_category().message(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

/// The error for system call `syscall` failing with errno `e`: cause
/// "<syscall>: <errno text>", code e.
inline error os_error(std::string op, std::string network, std::string source, std::string address,
                      const char* syscall, int e) {
  return error(std::move(op), std::move(network), std::move(source), std::move(address),
               std::error_code(e, std::system_category()),
               std::string(syscall) + ": " + errno_text(e));
}

/// errno as it is now on the calling thread. Read through a function the
/// compiler cannot see into: errno's address is per thread, and a goroutine
/// that parked between two system calls may be on another thread for the
/// second (see GORO_TLS_ACCESSOR).
GORO_TLS_ACCESSOR inline int last_errno() noexcept {
  GORO_TLS_BARRIER();
  return errno;
}

}  // namespace detail
}  // namespace goro::net

#endif  // GORO_NET_ERROR_HPP
