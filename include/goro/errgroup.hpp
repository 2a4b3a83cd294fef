// errgroup.hpp: a group of goroutines working on parts of one task, and the
// first error among them, after Go's golang.org/x/sync/errgroup.
//
//   goro::errgroup g(ctx);                 // g, ctx := errgroup.WithContext(ctx)
//   for (auto& url : urls)
//     g.go([&, url] { fetch(g.context(), url); });  // g.Go(func() error {...})
//   g.wait();                              // rethrows the first failure
//
// A member fails by throwing, or by returning a non-empty error value
// (std::exception_ptr, or std::error_code, which becomes std::system_error).
// The first failure is kept, cancels the group's context, and is what
// wait() rethrows; later failures are dropped, as in Go.
//
// Why wait() rethrows an exception that escaped a member (rather than ending
// the program as an unhandled exception in a goroutine does): in Go a panic
// is a crash and an error is a value, and Go tried carrying panics through
// Wait and reverted it. In C++ an exception *is* the ordinary error value
// (it is how a context-aware wait reports the end of its context), so a
// member that throws has failed like one that returns an error, and the
// place that can handle it is the one that waits for the group.
#ifndef GORO_ERRGROUP_HPP
#define GORO_ERRGROUP_HPP

#include "config.hpp"
#include "context.hpp"
#include "detail/spin_lock.hpp"
#include "runtime.hpp"
#include "sync.hpp"

#include <atomic>
#include <climits>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace goro {

/// A group of goroutines (its members) and the first error among them, like
/// Go's errgroup.Group. Not copyable or movable: members refer to it. The
/// destructor waits for every member (without rethrowing), so a group on
/// the stack never leaves a member running past it.
class errgroup {
 public:
  /// A group without a context of its own: context() is background().
  errgroup() = default;

  /// A group whose context() is derived from parent and cancelled by the
  /// first failure, or when wait() returns, whichever comes first (Go's
  /// errgroup.WithContext).
  explicit errgroup(const goro::context& parent) {
    cancelable_context c = with_cancel(parent);
    ctx_ = std::move(c.ctx);
    cancel_ = std::move(c.cancel);
  }

  errgroup(const errgroup&) = delete;
  errgroup& operator=(const errgroup&) = delete;

  /// Waits for every member, like wait(), but never throws.
  ~errgroup() {
    running_.wait();
    cancel_();
  }

  /// The group's context: give it to members so that they stop once one of
  /// them has failed.
  const goro::context& context() const noexcept { return ctx_; }

  /// Starts f as a member goroutine; with a limit set, first waits (parks a
  /// goroutine, blocks a thread) until fewer than the limit are running.
  /// f takes nothing or a const goro::context& (it gets context()), and
  /// returns void, std::exception_ptr or std::error_code; it fails by
  /// returning a non-empty error or by throwing.
  template <class F>
  void go(F&& f) {
    if (limit_ != nullptr) limit_->acquire();
    start(std::forward<F>(f));
  }

  /// Starts f as go() would, but only if that needs no waiting for a slot;
  /// returns whether it started (Go's TryGo).
  template <class F>
  bool try_go(F&& f) {
    if (limit_ != nullptr && !limit_->try_acquire()) return false;
    start(std::forward<F>(f));
    return true;
  }

  /// At most n members run at once from now on; a negative n means no limit.
  /// Changing the limit while members run throws std::logic_error (Go panics);
  /// n of 0 means go() blocks until the limit is raised, which nothing can do
  /// while go() waits: don't. An n above 2^31 - 1 throws std::invalid_argument.
  void set_limit(std::ptrdiff_t n) {
    if (running_.count() != 0) {
      detail::throw_error(
          std::logic_error("goro::errgroup: set_limit while members of the group are running"));
    }
    if (n > INT32_MAX) {
      detail::throw_error(std::invalid_argument("goro::errgroup: set_limit above 2^31 - 1"));
    }
    limit_ = n < 0 ? nullptr : std::make_unique<semaphore>(n);
  }

  /// Waits until every member has returned, cancels context(), then rethrows
  /// the first failure, if any. May be called again; rethrows the same.
  /// Without exceptions (GORO_EXCEPTIONS undefined) a failure is a fatal
  /// error instead: use wait_error() there.
  void wait() {
    running_.wait();
    cancel_();
    if (std::exception_ptr e = first_error()) {
#if defined(GORO_EXCEPTIONS)
      std::rethrow_exception(e);
#else
      detail::fatal("goro::errgroup: a member failed (without exceptions, use wait_error())");
#endif
    }
  }

  /// Like wait(), but returns the first failure (null if none) instead of
  /// rethrowing it.
  std::exception_ptr wait_error() {
    running_.wait();
    cancel_();
    return first_error();
  }

 private:
  template <class F>
  void start(F&& f) {
    running_.add(1);
    // A goroutine that cannot be started is not a member: undo the slot.
    struct undo {
      errgroup* g;
      bool armed = true;
      ~undo() {
        if (armed) g->finished();
      }
    } guard{this};
    goro::go([this, fn = std::decay_t<F>(std::forward<F>(f))]() mutable {
      {
        // The member's captures go before wait() can return.
        std::decay_t<F> member = std::move(fn);
        fail(run(member));
      }
      finished();
    });
    guard.armed = false;
  }

  /// Runs a member and turns how it ended into an error value (null: success).
  template <class Fn>
  std::exception_ptr run(Fn& fn) noexcept {
    GORO_TRY {
      if constexpr (std::is_invocable_v<Fn&, const goro::context&>) {
        return as_error(fn, ctx_);
      } else {
        return as_error(fn);
      }
    }
    GORO_CATCH_ALL { return std::current_exception(); }
  }

  template <class Fn, class... Args>
  static std::exception_ptr as_error(Fn& fn, Args&... args) {
    using R = std::invoke_result_t<Fn&, Args&...>;
    if constexpr (std::is_void_v<R>) {
      fn(args...);
      return nullptr;
    } else if constexpr (std::is_convertible_v<R, std::exception_ptr>) {
      return fn(args...);
    } else if constexpr (std::is_convertible_v<R, std::error_code>) {
      const std::error_code ec = fn(args...);
      if (!ec) return nullptr;
      std::exception_ptr e = std::make_exception_ptr(std::system_error(ec));
      // Built without both exceptions and RTTI, the standard library makes a
      // null exception_ptr: end the program rather than lose the failure.
      if (!e) detail::fatal(("goro::errgroup: a member failed: " + ec.message()).c_str());
      return e;
    } else {
      static_assert(std::is_void_v<R>,
                    "an errgroup member returns void, std::exception_ptr or std::error_code");
      return nullptr;
    }
  }

  /// Records e if it is the group's first failure, and cancels the context.
  void fail(std::exception_ptr e) {
    if (!e) return;
    {
      std::lock_guard<detail::spin_lock> guard(lock_);
      if (error_) return;
      error_ = e;
    }
    cancel_(std::move(e));
  }

  /// A member has returned: its slot and its count go.
  void finished() {
    if (limit_ != nullptr) limit_->release();
    running_.done();  // last touch of *this: wait() may return and the group go
  }

  std::exception_ptr first_error() {
    std::lock_guard<detail::spin_lock> guard(lock_);
    return error_;
  }

  goro::context ctx_;
  cancel_func cancel_;
  wait_group running_;                ///< members started and not yet returned
  std::unique_ptr<semaphore> limit_;  ///< null: no limit; replaced only with no member running
  detail::spin_lock lock_;            ///< guards error_
  std::exception_ptr error_;          ///< the first failure
};

}  // namespace goro

#endif
