// chan.hpp: typed channels, like Go's `chan T`.
//
//   auto c = goro::make_chan<int>(16);  // c := make(chan int, 16)
//   c.send(1);                          // c <- 1
//   std::optional<int> v = c.recv();    // v, ok := <-c
//   c.close();                          // close(c)
//   for (int x : c) { ... }             // for x := range c
//
// A chan<T> is a cheap, copyable handle to shared channel state, compared by
// identity; a default-constructed one is nil. send_chan<T> and recv_chan<T>
// are directional views (`chan<- T`, `<-chan T`) that a chan<T> converts to.
#ifndef GORO_CHAN_HPP
#define GORO_CHAN_HPP

#include "config.hpp"
#include "detail/chan_core.hpp"
#include "detail/value_box.hpp"
#include "errors.hpp"

#include <chrono>
#include <cstddef>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace goro {

class select_set;
class context;
namespace detail {
struct handle_access;
/// Only named: what range-for over a goro::send_chan reports.
struct send_chan_is_send_only_range_over_a_chan_or_recv_chan;
}  // namespace detail
template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

/// The element type of a context's done() channel, like Go's `struct{}`:
/// nothing is ever sent on such a channel; it is only closed.
struct done_t {};

/// The result of a receive that may not happen: try_recv, recv_for, recv_until.
template <class T>
struct recv_result {
  op_status status;        ///< ok, or why no value came (empty, closed, timeout)
  std::optional<T> value;  ///< the value when status is ok

  /// True when a value was received.
  explicit operator bool() const noexcept { return status == op_status::ok; }
};

namespace detail {

/// A channel of T: the untyped core plus its buffer of T.
template <class T>
class chan_state {
  // Values move under the channel's lock, after a waiting party has been
  // claimed: a move that threw there could neither undo the claim nor be
  // reported to the party, so it is ruled out at compile time.
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "goro::chan<T>: T must be nothrow move constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "goro::chan<T>: T must not throw from ~T()");

 public:
  explicit chan_state(std::size_t capacity)
      : storage_(capacity > 0 ? (GORO_FAULT_ALLOCATION(), allocate(capacity)) : nullptr),
        core_(capacity, &ops, storage_) {}

  chan_state(const chan_state&) = delete;
  chan_state& operator=(const chan_state&) = delete;

  ~chan_state() {
    // Nobody else can reach us: no waiters remain (each holds a handle).
    for (std::size_t i = 0; i < core_.size(); ++i) {
      storage_[core_.slot(i)].~T();
    }
    if (storage_ != nullptr) std::allocator<T>().deallocate(storage_, core_.cap);
  }

  chan_core* core() noexcept { return &core_; }

  /// The typed moves of chan_core.hpp (see untyped_moves), for the
  /// operations that know T; the chan_ops table below calls the same.
  struct moves {
    static void move_into(const chan_core&, void* dst, void* src) noexcept {
      chan_state::move_into(dst, src);
    }
    static void store(const chan_core& c, std::size_t i, void* src) noexcept {
      chan_state::store(c.buffer, i, src);
    }
    static void load(const chan_core& c, std::size_t i, void* dst) noexcept {
      chan_state::load(c.buffer, i, dst);
    }
  };

 private:
  // A capacity no allocation can hold gets its own message (std::allocator
  // would say only std::bad_array_new_length); the bound also keeps the
  // ring arithmetic of chan_core (head + count < 2 * cap) from wrapping.
  static T* allocate(std::size_t capacity) {
    // Not allocator_traits::max_size: from C++20 it is SIZE_MAX / sizeof(T),
    // which lets an impossible capacity through to a bare std::bad_alloc.
    if (capacity >
        static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(T)) {
      throw_error(std::length_error("goro::make_chan: capacity larger than any buffer can be"));
    }
    return std::allocator<T>().allocate(capacity);
  }

  static void move_into(void* dst, void* src) noexcept {
    static_cast<std::optional<T>*>(dst)->emplace(std::move(*static_cast<T*>(src)));
  }
  static void store(void* buf, std::size_t i, void* src) noexcept {
    ::new (static_cast<void*>(static_cast<T*>(buf) + i)) T(std::move(*static_cast<T*>(src)));
  }
  static void load(void* buf, std::size_t i, void* dst) noexcept {
    T* slot = static_cast<T*>(buf) + i;
    static_cast<std::optional<T>*>(dst)->emplace(std::move(*slot));
    slot->~T();
  }
  static constexpr chan_ops ops{&move_into, &store, &load};

  T* storage_;
  chan_core core_;
};

/// What every channel handle holds, and the operations they share.
template <class T>
class chan_handle {
 public:
  /// The element type.
  using value_type = T;

  /// True unless nil.
  explicit operator bool() const noexcept { return state_ != nullptr; }
  /// Values buffered now (0 for unbuffered and nil channels).
  std::size_t size() const noexcept { return chan_size(core()); }
  /// The capacity given to make_chan (0: unbuffered or nil).
  std::size_t capacity() const noexcept { return state_ ? core()->cap : 0; }

  /// The untyped channel, for select; nullptr when nil.
  chan_core* core() const noexcept { return state_ ? state_->core() : nullptr; }

  friend bool operator==(const chan_handle& a, const chan_handle& b) noexcept {
    return a.state_ == b.state_;
  }
  friend bool operator!=(const chan_handle& a, const chan_handle& b) noexcept {
    return a.state_ != b.state_;
  }

 protected:
  chan_handle() noexcept = default;
  explicit chan_handle(std::shared_ptr<chan_state<T>> s) noexcept : state_(std::move(s)) {}

  /// How the operations below move values: typed, with no indirect call.
  using moves = typename chan_state<T>::moves;

  // The operations; each handle type makes its subset public (`using`).

  /// Blocks until a receiver takes v or the buffer has room. Throws
  /// closed_channel if the channel is or gets closed (v is then not taken;
  /// without exceptions: a fatal error with its message). On a nil channel,
  /// blocks forever.
  void send(const T& v) const {
    value_box<T> copy(std::in_place, v);  // a large T goes to the heap, not our frame
    chan_send<moves>(core(), &copy.get(), wait_mode::forever);
  }
  void send(T&& v) const { chan_send<moves>(core(), &v, wait_mode::forever); }
  /// send, unless ctx is done first: then throws goro::context_error and v
  /// is not taken. If ctx is already done, the send is not attempted.
  /// Needs goro/context.hpp.
  void send(const goro::context& ctx, T&& v) const;
  void send(const goro::context& ctx, const T& v) const {
    value_box<T> copy(std::in_place, v);
    send(ctx, std::move(copy.get()));
  }

  /// Sends only if that needs no waiting: ok, or why not (full, closed).
  /// Moves from v only when it returns ok.
  op_status try_send(const T& v) const {
    value_box<T> copy(std::in_place, v);
    return try_send(std::move(copy.get()));
  }
  op_status try_send(T&& v) const { return chan_send<moves>(core(), &v, wait_mode::poll); }

  /// send, giving up after d: returns ok or timeout (v is then not taken);
  /// throws closed_channel like send.
  template <class Rep, class Period>
  op_status send_for(T&& v, const std::chrono::duration<Rep, Period>& d) const {
    return chan_send<moves>(core(), &v, wait_mode::until, deadline_after(d));
  }
  template <class Rep, class Period>
  op_status send_for(const T& v, const std::chrono::duration<Rep, Period>& d) const {
    value_box<T> copy(std::in_place, v);
    return send_for(std::move(copy.get()), d);
  }
  /// send, giving up at t.
  template <class Clock, class Duration>
  op_status send_until(T&& v, const std::chrono::time_point<Clock, Duration>& t) const {
    return chan_send<moves>(core(), &v, wait_mode::until, to_steady(t));
  }
  template <class Clock, class Duration>
  op_status send_until(const T& v, const std::chrono::time_point<Clock, Duration>& t) const {
    value_box<T> copy(std::in_place, v);
    return send_until(std::move(copy.get()), t);
  }

  /// Blocks until a value comes (returns it) or the channel is closed and
  /// drained (returns nullopt). On a nil channel, blocks forever.
  std::optional<T> recv() const {
    std::optional<T> out;
    chan_recv<moves>(core(), &out, wait_mode::forever);
    return out;
  }
  /// recv, unless ctx is done first: then throws goro::context_error. If
  /// ctx is already done, the receive is not attempted. Needs goro/context.hpp.
  std::optional<T> recv(const goro::context& ctx) const;
  /// Receives only if that needs no waiting; status says why not (empty, closed).
  recv_result<T> try_recv() const {
    recv_result<T> r{op_status::ok, std::nullopt};
    r.status = chan_recv<moves>(core(), &r.value, wait_mode::poll);
    return r;
  }
  /// recv, giving up after d (status timeout).
  template <class Rep, class Period>
  recv_result<T> recv_for(const std::chrono::duration<Rep, Period>& d) const {
    return recv_until_steady(deadline_after(d));
  }
  /// recv, giving up at t (status timeout).
  template <class Clock, class Duration>
  recv_result<T> recv_until(const std::chrono::time_point<Clock, Duration>& t) const {
    return recv_until_steady(to_steady(t));
  }

  /// Closes the channel: receivers drain what is buffered, then see it closed;
  /// blocked senders throw. Throws closed_channel if already closed,
  /// nil_channel on a nil channel (without exceptions: a fatal error with
  /// its message).
  void close() const { chan_close(core()); }

 private:
  recv_result<T> recv_until_steady(std::chrono::steady_clock::time_point d) const {
    recv_result<T> r{op_status::ok, std::nullopt};
    r.status = chan_recv<moves>(core(), &r.value, wait_mode::until, d);
    return r;
  }

 protected:
  std::shared_ptr<chan_state<T>> state_;

  template <class>
  friend class chan_handle;
  friend class goro::select_set;  // keeps the channels of its cases alive
  friend struct handle_access;    // so does a case made from a temporary handle
};

}  // namespace detail

/// Input iterator over a channel's values: each increment is a receive; it
/// equals end() once the channel is closed and drained. Makes
/// `for (T v : ch)` work like Go's `for v := range ch`.
template <class T>
class chan_iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = T*;
  using reference = T&;

  chan_iterator() noexcept : value_(typename slot::no_slot_t{}) {}  ///< the end iterator
  explicit chan_iterator(detail::chan_core* c) : chan_(c) { ++*this; }

  T& operator*() noexcept { return *value_.get(); }
  T* operator->() noexcept { return &*value_.get(); }
  chan_iterator& operator++() {
    value_.ensure();  // a postfix ++ moved the slot out
    value_.get().reset();
    using moves = typename detail::chan_state<T>::moves;
    detail::chan_recv<moves>(chan_, &value_.get(), detail::wait_mode::forever);
    if (!value_.get()) chan_ = nullptr;
    return *this;
  }
  /// What `it++` returns: the value it pointed at, so `*it++` works.
  struct value_holder {
    detail::recv_slot<T> value;
    T& operator*() noexcept { return *value.get(); }
  };
  value_holder operator++(int) {
    value_holder old{std::move(value_)};
    ++*this;
    return old;
  }
  friend bool operator==(const chan_iterator& a, const chan_iterator& b) noexcept {
    return a.chan_ == b.chan_;
  }
  friend bool operator!=(const chan_iterator& a, const chan_iterator& b) noexcept {
    return !(a == b);
  }

 private:
  // A large T lands on the heap (value_box.hpp): range-for keeps its iterator
  // in the ranging goroutine's frame.
  using slot = detail::recv_slot<T>;
  detail::chan_core* chan_ = nullptr;
  slot value_;
};

/// A receive-only view of a channel, like Go's `<-chan T`: receive, range,
/// but no send and no close (those do not compile).
template <class T>
class recv_chan : public detail::chan_handle<T> {
  using base = detail::chan_handle<T>;

 public:
  /// A nil channel.
  recv_chan() noexcept = default;
  /// A view of c.
  recv_chan(const chan<T>& c) noexcept : base(c) {}  // NOLINT: implicit, like Go

  using base::recv;
  using base::recv_for;
  using base::recv_until;
  using base::try_recv;

  /// Range support: receives until closed and drained. Not on a temporary
  /// (the iterator would outlive the channel it refers to); `for (v :
  /// goro::tick(d))` still works, as range-for names its range.
  chan_iterator<T> begin() const& { return chan_iterator<T>(this->core()); }
  chan_iterator<T> begin() const&& = delete;
  chan_iterator<T> end() const noexcept { return chan_iterator<T>(); }
};

/// A send-only view of a channel, like Go's `chan<- T`: send and close, but
/// no receive (that does not compile).
template <class T>
class send_chan : public detail::chan_handle<T> {
  using base = detail::chan_handle<T>;

 public:
  /// A nil channel.
  send_chan() noexcept = default;
  /// A view of c.
  send_chan(const chan<T>& c) noexcept : base(c) {}  // NOLINT: implicit, like Go

  using base::close;
  using base::send;
  using base::send_for;
  using base::send_until;
  using base::try_send;

  // Ranging over a send-only view is a misuse. Deleted (so that traits
  // still see no range: a static_assert in a body would fire inside them),
  // with a return type whose name is the message range-for prints.
  detail::send_chan_is_send_only_range_over_a_chan_or_recv_chan begin() const = delete;
  detail::send_chan_is_send_only_range_over_a_chan_or_recv_chan end() const = delete;
};

/// A channel of T, like Go's `chan T`. Default-constructed: nil (every
/// operation blocks forever; close throws). Make one with make_chan.
template <class T>
class chan : public detail::chan_handle<T> {
  using base = detail::chan_handle<T>;
  static_assert(std::is_move_constructible_v<T>, "channel elements must be move-constructible");
  static_assert(!std::is_reference_v<T>, "channel elements cannot be references");

 public:
  /// A nil channel.
  chan() noexcept = default;

  using base::close;
  using base::recv;
  using base::recv_for;
  using base::recv_until;
  using base::send;
  using base::send_for;
  using base::send_until;
  using base::try_recv;
  using base::try_send;

  /// Range support: receives until closed and drained. Not on a temporary,
  /// as for recv_chan.
  chan_iterator<T> begin() const& { return chan_iterator<T>(this->core()); }
  chan_iterator<T> begin() const&& = delete;
  chan_iterator<T> end() const noexcept { return chan_iterator<T>(); }

 private:
  template <class U>
  friend chan<U> make_chan(std::size_t);
  explicit chan(std::shared_ptr<detail::chan_state<T>> s) noexcept : base(std::move(s)) {}
};

/// Makes a channel: unbuffered (capacity 0: a send completes when a receiver
/// takes the value) or buffered with room for `capacity` values, FIFO.
/// Throws std::length_error for a capacity no buffer can hold (more bytes
/// than PTRDIFF_MAX), std::bad_alloc when the buffer cannot be had.
template <class T>
chan<T> make_chan(std::size_t capacity = 0) {
  return chan<T>(std::make_shared<detail::chan_state<T>>(capacity));
}

}  // namespace goro

#endif
