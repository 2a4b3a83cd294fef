// select.hpp: Go's select statement.
//
//   std::size_t i = goro::select(
//       goro::case_recv(in, [](std::optional<int> v) { ... }),  // v empty: in closed
//       goro::case_send(out, 42, [] { ... }),
//       goro::case_recv(goro::after(100ms)),                    // a timeout
//       goro::case_default([] { ... }));                        // makes it non-blocking
//
// Exactly one ready case completes and its handler runs; among several ready
// cases one is chosen uniformly at random; with none ready and no default it
// blocks. A nil channel's case is never ready. Returns the chosen case's
// index (the default case counts as a case). For a number of cases known only
// at run time (Go's reflect.Select), use goro::select_set.
// select(ctx, cases...), which a goro::context can end, is in context.hpp.
#ifndef GORO_SELECT_HPP
#define GORO_SELECT_HPP

#include "chan.hpp"
#include "config.hpp"
#include "detail/select_core.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace goro {

namespace detail {
/// One object per type T, whose address stands for T where goro would
/// otherwise need RTTI (select_set::rearm_send).
template <class T>
inline constexpr char type_tag = 0;

/// A handler that does nothing, for cases given without one.
struct no_handler {
  template <class... A>
  void operator()(A&&...) const noexcept {}
};

/// Calls a receive handler with the optional, or with nothing if it takes nothing.
template <class F, class T>
void call_recv_handler(F& f, std::optional<T>&& v) {
  if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
    std::invoke(f, std::move(v));
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "a case_recv handler takes std::optional<T> (empty: channel closed) or nothing");
    std::invoke(f);
  }
}

}  // namespace detail

/// A receive case; made by case_recv.
template <class T, class F>
struct recv_case {
  detail::chan_core* chan;
  F handler;
  detail::recv_slot<T> slot;  ///< where the value lands if this case is chosen
  /// The channel itself when the case was made from a temporary handle (a
  /// case_recv(goro::after(d)) returned from a helper): the case then owns
  /// it, as a Go value would. Empty for a named channel, which the caller keeps.
  std::shared_ptr<void> owner;

  detail::select_case describe() noexcept { return {chan, false, &slot.get()}; }
  void complete() { detail::call_recv_handler(handler, std::move(slot.get())); }
};

/// A send case; made by case_send.
template <class T, class F>
struct send_case {
  detail::chan_core* chan;
  detail::value_box<T> value;  ///< moved out only if this case is chosen
  F handler;
  std::shared_ptr<void> owner;  ///< as recv_case::owner

  detail::select_case describe() noexcept { return {chan, true, &value.get()}; }
  void complete() { std::invoke(handler); }
};

/// The default case; made by case_default.
template <class F>
struct default_case {
  F handler;
};

namespace detail {
/// Takes the channel out of a temporary handle, for a case that must own it.
struct handle_access {
  template <class T>
  static std::shared_ptr<void> take(chan_handle<T>&& c) noexcept {
    return std::move(c.state_);
  }
  /// A const temporary cannot be moved from: the case shares its channel.
  template <class T>
  static std::shared_ptr<void> share(const chan_handle<T>& c) noexcept {
    return c.state_;
  }
};
}  // namespace detail

/// A case receiving from c (a chan<T> or a recv_chan<T>); handler(std::optional<T>)
/// runs if it is chosen (an empty optional: c is closed). The handler may be
/// omitted. Given a temporary channel handle (`case_recv(goro::after(d))`),
/// const or not, the case keeps the channel alive.
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> case_recv(const recv_chan<T>& c, F&& handler = {}) {
  return {c.core(), std::forward<F>(handler), {}, nullptr};
}
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> case_recv(recv_chan<T>&& c, F&& handler = {}) {
  return {c.core(), std::forward<F>(handler), {}, detail::handle_access::take(std::move(c))};
}
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> case_recv(const chan<T>& c, F&& handler = {}) {
  return {c.core(), std::forward<F>(handler), {}, nullptr};
}
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> case_recv(chan<T>&& c, F&& handler = {}) {
  return {c.core(), std::forward<F>(handler), {}, detail::handle_access::take(std::move(c))};
}
// A const temporary (a helper returning `const chan<T>`) is a temporary too:
// without these it would bind to the borrowing overloads above and dangle.
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> case_recv(const recv_chan<T>&& c, F&& handler = {}) {
  return {c.core(), std::forward<F>(handler), {}, detail::handle_access::share(c)};
}
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> case_recv(const chan<T>&& c, F&& handler = {}) {
  return {c.core(), std::forward<F>(handler), {}, detail::handle_access::share(c)};
}

/// A case sending v on c (a chan<T> or a send_chan<T>); handler() runs if it
/// is chosen. The value is consumed only then. Choosing a send on a closed
/// channel throws closed_channel, as Go panics (without exceptions: a fatal
/// error with its message). A temporary channel handle is kept alive by the
/// case, as for case_recv.
template <class T, class V, class F = detail::no_handler>
send_case<T, std::decay_t<F>> case_send(const send_chan<T>& c, V&& v, F&& handler = {}) {
  return {c.core(), detail::value_box<T>(std::in_place, std::forward<V>(v)),
          std::forward<F>(handler), nullptr};
}
template <class T, class V, class F = detail::no_handler>
send_case<T, std::decay_t<F>> case_send(send_chan<T>&& c, V&& v, F&& handler = {}) {
  return {c.core(), detail::value_box<T>(std::in_place, std::forward<V>(v)),
          std::forward<F>(handler), detail::handle_access::take(std::move(c))};
}
template <class T, class V, class F = detail::no_handler>
send_case<T, std::decay_t<F>> case_send(const chan<T>& c, V&& v, F&& handler = {}) {
  return {c.core(), detail::value_box<T>(std::in_place, std::forward<V>(v)),
          std::forward<F>(handler), nullptr};
}
template <class T, class V, class F = detail::no_handler>
send_case<T, std::decay_t<F>> case_send(chan<T>&& c, V&& v, F&& handler = {}) {
  return {c.core(), detail::value_box<T>(std::in_place, std::forward<V>(v)),
          std::forward<F>(handler), detail::handle_access::take(std::move(c))};
}
template <class T, class V, class F = detail::no_handler>
send_case<T, std::decay_t<F>> case_send(const send_chan<T>&& c, V&& v, F&& handler = {}) {
  return {c.core(), detail::value_box<T>(std::in_place, std::forward<V>(v)),
          std::forward<F>(handler), detail::handle_access::share(c)};
}
template <class T, class V, class F = detail::no_handler>
send_case<T, std::decay_t<F>> case_send(const chan<T>&& c, V&& v, F&& handler = {}) {
  return {c.core(), detail::value_box<T>(std::in_place, std::forward<V>(v)),
          std::forward<F>(handler), detail::handle_access::share(c)};
}

/// The default case: chosen when no other case is ready, making the select
/// non-blocking.
template <class F = detail::no_handler>
default_case<std::decay_t<F>> case_default(F&& handler = {}) {
  return {std::forward<F>(handler)};
}

namespace detail {

template <class C>
struct is_default_case : std::false_type {};
template <class F>
struct is_default_case<default_case<F>> : std::true_type {};

/// Index of the default case among Cases, or sizeof...(Cases) if none.
template <class... Cases>
constexpr std::size_t default_index() {
  constexpr bool flags[] = {is_default_case<std::decay_t<Cases>>::value..., false};
  for (std::size_t i = 0; i < sizeof...(Cases); ++i) {
    if (flags[i]) return i;
  }
  return sizeof...(Cases);
}

template <class... Cases>
constexpr std::size_t count_defaults() {
  return (std::size_t{0} + ... + (is_default_case<std::decay_t<Cases>>::value ? 1 : 0));
}

template <class C>
void run_case_if(C& c, std::size_t index, std::size_t chosen) {
  if (index != chosen) return;
  if constexpr (is_default_case<C>::value) {
    std::invoke(c.handler);
  } else {
    c.complete();
  }
}

}  // namespace detail

namespace detail {

/// Whether the first of Args is a goro::context: select(ctx, cases...) is
/// then meant, not a select whose first case is a context.
template <class... Args>
struct first_is_context : std::false_type {};
template <class First, class... Rest>
struct first_is_context<First, Rest...> : std::is_same<std::decay_t<First>, goro::context> {};

/// The index select_with_done returns when the done channel's case won.
constexpr std::size_t done_won = static_cast<std::size_t>(-1);

/// The static select, with one more receive case on `done` (a context's done
/// channel; nullptr: none) after the caller's. Returns the chosen case's
/// argument index, or done_won.
template <class... Cases>
std::size_t select_with_done(chan_core* done, Cases&... cases) {
  static_assert(count_defaults<Cases...>() <= 1, "a select has at most one default case");
  constexpr std::size_t total = sizeof...(Cases);
  constexpr std::size_t def = default_index<Cases...>();
  constexpr std::size_t n_max = total - (def < total ? 1 : 0) + 1;  // channel cases + done

  // Channel cases in argument order, skipping the default; then done.
  select_case descs[n_max];
  std::size_t arg_of[n_max];
  std::size_t n = 0;
  {
    [[maybe_unused]] std::size_t arg = 0;
    [[maybe_unused]] auto add = [&](auto& c) {
      if constexpr (!is_default_case<std::decay_t<decltype(c)>>::value) {
        descs[n] = c.describe();
        arg_of[n++] = arg;
      }
      ++arg;
    };
    (add(cases), ...);
  }
  std::optional<done_t> done_slot;  // never filled: done channels are only closed
  if (done != nullptr) {
    descs[n] = {done, false, &done_slot};
    arg_of[n++] = done_won;
  }
  std::uint32_t poll_order[n_max];
  chan_core* lock_order[n_max];
  waiter_slot waiters[n_max];
  const std::size_t got = select_run(descs, n, def < total, {poll_order, lock_order, waiters});
  if (got < n && arg_of[got] == done_won) return done_won;
  const std::size_t chosen = got < n ? arg_of[got] : def;
  [[maybe_unused]] std::size_t index = 0;
  (run_case_if(cases, index++, chosen), ...);
  return chosen;
}

}  // namespace detail

/// Waits until one of the cases can proceed, completes it, runs its handler
/// and returns its index (see the file comment). With no cases at all it
/// blocks forever, like Go's `select {}`.
template <class... Cases, std::enable_if_t<!detail::first_is_context<Cases...>::value, int> = 0>
std::size_t select(Cases&&... cases) {
  return detail::select_with_done(nullptr, cases...);
}

/// A select over cases added at run time, like Go's reflect.Select: for
/// fan-in over a std::vector of channels and the like. Build it once, then
/// call select() as often as needed. A case can be switched off (Go's idiom
/// of setting a channel variable to nil) with disable().
class select_set {
 public:
  /// The index select() returns when the default case was taken.
  static constexpr std::size_t default_index = static_cast<std::size_t>(-1);

  /// Adds a case receiving from c; when it is chosen its handler runs with
  /// (std::optional<T>), with (std::size_t index, std::optional<T>), or with
  /// nothing — whichever it takes. An empty optional: c is closed (the case
  /// then stays ready; disable(index) it, as Go code sets the channel to nil).
  /// Returns the case's index.
  template <class T, class F = detail::no_handler>
  std::size_t add_recv(const recv_chan<T>& c, F&& handler = {}) {
    auto rc = std::make_unique<recv_entry<T, std::decay_t<F>>>(std::forward<F>(handler));
    rc->chan = c.core();
    rc->keep_alive = c.state_;
    rc->index = entries_.size();
    return add(std::move(rc));
  }
  template <class T, class F = detail::no_handler>
  std::size_t add_recv(const chan<T>& c, F&& handler = {}) {
    return add_recv(recv_chan<T>(c), std::forward<F>(handler));
  }

  /// Adds a case sending v on c; handler() runs when it is chosen. The case
  /// sends v once: after it is chosen it is disabled until rearm_send().
  template <class T, class V, class F = detail::no_handler>
  std::size_t add_send(const send_chan<T>& c, V&& v, F&& handler = {}) {
    // The value is made in place in the heap entry: no T in this frame.
    auto sc = std::make_unique<send_entry<T, std::decay_t<F>>>(std::forward<V>(v),
                                                               std::forward<F>(handler));
    sc->chan = c.core();
    sc->keep_alive = c.state_;
    return add(std::move(sc));
  }
  template <class T, class V, class F = detail::no_handler>
  std::size_t add_send(const chan<T>& c, V&& v, F&& handler = {}) {
    return add_send(send_chan<T>(c), std::forward<V>(v), std::forward<F>(handler));
  }

  /// Gives a send case a new value and enables it again. T is the channel's
  /// element type, named explicitly: `sel.rearm_send<int>(i, 7)`. Throws
  /// std::invalid_argument if case `index` is not a send case of type T,
  /// std::out_of_range if there is no such case. (Without exceptions, these
  /// and the errors of disable, enable and enabled are fatal errors with the
  /// same message.)
  template <class T, class V>
  void rearm_send(std::size_t index, V&& v) {
    entry& e = at(index);
    if (e.send_type != send_type_of<T>()) {
      detail::throw_error(std::invalid_argument("goro::select_set: not a send case of that type"));
    }
    auto& sc = static_cast<send_value_entry<T>&>(e);
    sc.value.emplace(std::forward<V>(v));
    sc.enabled = true;
    refresh(index);
  }

  /// Adds (or replaces) the default case, making select() non-blocking.
  template <class F = detail::no_handler>
  void set_default(F&& handler = {}) {
    default_ = std::forward<F>(handler);
    has_default_ = true;
  }

  /// Switches a case off: it is never ready until enabled again.
  void disable(std::size_t index) {
    at(index).enabled = false;
    refresh(index);
  }
  /// Switches a case back on. Throws std::logic_error for a send case whose
  /// value was already sent (it has nothing to send: use rearm_send).
  void enable(std::size_t index) {
    entry& e = at(index);
    if (!e.has_value()) {
      detail::throw_error(std::logic_error(
          "goro::select_set: enable() of a send case whose value was sent; use rearm_send()"));
    }
    e.enabled = true;
    refresh(index);
  }
  /// Whether case `index` is on (a chosen send case is off until rearmed).
  bool enabled(std::size_t index) const { return at(index).enabled; }

  /// Number of cases (enabled or not), not counting the default.
  std::size_t size() const noexcept { return entries_.size(); }

  /// Runs the select: waits for one enabled case, completes it, runs its
  /// handler, returns its index (or default_index).
  std::size_t select() {
    // descs_ and the scratch vectors already have a slot per case (add).
    const std::size_t n = entries_.size();
    const std::size_t got = detail::select_run(
        descs_.data(), n, has_default_, {poll_order_.data(), lock_order_.data(), waiters_.data()});
    if (got == n) {
      if (default_) default_();
      return default_index;
    }
    entry& e = *entries_[got];
    if (e.chosen()) refresh(got);
    e.complete();
    return got;
  }

 private:
  struct entry {
    virtual ~entry() = default;
    /// The untyped case; a disabled one has no channel (never ready). Kept
    /// in descs_ and refreshed whenever it changes: describing every case
    /// on every select (a virtual call each) cost W4 with a select_set a
    /// seventh of its instructions.
    virtual detail::select_case describe() noexcept = 0;
    /// Right after the case was chosen, before its handler: updates what
    /// must change whatever the handler does; true if describe() changed.
    virtual bool chosen() noexcept { return false; }
    /// Runs the handler; afterwards, a receive slot is empty again.
    virtual void complete() = 0;
    /// False for a send case whose value was sent and not yet replaced.
    virtual bool has_value() const noexcept { return true; }
    detail::chan_core* chan = nullptr;
    std::shared_ptr<void> keep_alive;  ///< owns the channel, as a Go value would
    /// A send case's element type, as send_type_of<T>(); null for a receive
    /// case. What rearm_send checks before its static_cast (no RTTI needed).
    const void* send_type = nullptr;
    bool enabled = true;
  };
  /// One address per type T: an inline variable has one definition in the
  /// whole program, so its address identifies T across translation units
  /// (and shared libraries, unless they hide goro's symbols with
  /// -fvisibility=hidden: then add_send and rearm_send of one case must be
  /// called from the same library).
  template <class T>
  static const void* send_type_of() noexcept {
    return &detail::type_tag<T>;
  }
  template <class T, class F>
  struct recv_entry final : entry {
    explicit recv_entry(F h) : handler(std::move(h)) {}
    detail::select_case describe() noexcept override {
      return {enabled ? chan : nullptr, false, &slot};
    }
    void complete() override {
      // Emptied before the handler runs (which may throw): a close leaves
      // the slot untouched, so the next select must find it empty.
      // A large T goes to the heap, not this frame (value_box.hpp).
      detail::value_box<std::optional<T>> box(std::in_place, std::move(slot));
      std::optional<T>& v = box.get();
      slot.reset();
      if constexpr (std::is_invocable_v<F&, std::size_t, std::optional<T>&&>) {
        std::invoke(handler, index, std::move(v));
      } else {
        detail::call_recv_handler(handler, std::move(v));
      }
    }
    F handler;
    std::optional<T> slot;
    std::size_t index = 0;
  };
  template <class T>
  struct send_value_entry : entry {
    send_value_entry() noexcept { this->send_type = send_type_of<T>(); }
    bool has_value() const noexcept override { return value.has_value(); }
    std::optional<T> value;
  };
  template <class T, class F>
  struct send_entry final : send_value_entry<T> {
    template <class V>
    send_entry(V&& v, F h) : handler(std::move(h)) {
      this->value.emplace(std::forward<V>(v));
    }
    detail::select_case describe() noexcept override {
      const bool on = this->enabled && this->value.has_value();
      return {on ? this->chan : nullptr, true, on ? &*this->value : nullptr};
    }
    bool chosen() noexcept override {
      this->value.reset();  // sent (moved from); off until rearmed
      this->enabled = false;
      return true;
    }
    void complete() override { std::invoke(handler); }
    F handler;
  };

  /// Case `index`; an index that is not a case is an error (std::out_of_range).
  entry& at(std::size_t index) const {
    if (index >= entries_.size()) {
      detail::throw_error(std::out_of_range("goro::select_set: no case with that index"));
    }
    return *entries_[index];
  }

  std::size_t add(std::unique_ptr<entry> e) {
    entries_.reserve(entries_.size() + 1);
    descs_.reserve(entries_.size() + 1);
    poll_order_.resize(entries_.size() + 1);
    lock_order_.resize(entries_.size() + 1);
    waiters_.resize(entries_.size() + 1);
    descs_.push_back(e->describe());  // reserved: neither push_back throws
    entries_.push_back(std::move(e));
    return entries_.size() - 1;
  }

  /// Re-describes case `index` after a change (add, disable, enable, rearm,
  /// chosen).
  void refresh(std::size_t index) noexcept { descs_[index] = entries_[index]->describe(); }

  std::vector<std::unique_ptr<entry>> entries_;
  std::function<void()> default_;
  bool has_default_ = false;
  std::vector<detail::select_case> descs_;
  std::vector<std::uint32_t> poll_order_;
  std::vector<detail::chan_core*> lock_order_;
  std::vector<detail::waiter_slot> waiters_;
};

}  // namespace goro

#endif
