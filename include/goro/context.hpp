// context.hpp: cancellation, deadlines and request-scoped values, like Go's
// package context.
//
//   auto [ctx, cancel] = goro::with_timeout(parent, 100ms);  // context.WithTimeout
//   goro::select(goro::case_recv(ctx.done()), ...);           // case <-ctx.Done():
//   if (ctx.err() == goro::context_errc::deadline_exceeded) ...
//   std::optional<int> v = c.recv(ctx);                       // ends with ctx, throwing
//   cancel();                                                 // idempotent
//
// A goro::context is a cheap copyable handle (a shared pointer), as Go's is
// an interface value; a default-constructed one is background(). Contexts
// form a tree: with_cancel, with_deadline, with_timeout and with_value derive
// a child from a parent. Cancelling a context cancels every descendant at
// once; a child cancelled first (or whose every handle is gone with nothing
// observing it) unregisters from its parent, so long-lived parents do not
// grow. A deadline is a timer on the runtime's timer heap, stopped (and its
// memory freed) when the context is cancelled first.
//
// Context-aware waits have one shape: the context comes first, as in Go.
//   c.send(ctx, v)   c.recv(ctx)   goro::select(ctx, cases...)
//   goro::sleep_for(ctx, d)   goro::sleep_until(ctx, t)
//   m.lock(ctx)   s.acquire(ctx)   wg.wait(ctx)
// and, declared in their own headers (which include this one):
//   conn.read(ctx, ...)   conn.write(ctx, ...)   ln.accept(ctx)   (net/)
//   goro::blocking(ctx, f, args...)                                (blocking.hpp)
// Each does what the plain call does, unless ctx is done first (or already
// done when it starts): then it throws goro::context_error, whose code() is
// ctx.err() and whose cause() is the cancellation cause, and the operation
// has not happened. docs/design.md says why these throw rather than return.
// Each is one ordinary wait plus a waiter on ctx.done() (detail/done_watch.hpp):
// nothing polls.
//
// Inside: a cancellable context owns a detail::cancel_state (lock, error,
// lazily made done channel, children, after_funcs, deadline timer). Value
// contexts point at their nearest cancellable ancestor's state. Ownership
// only ever points downward in the cancel tree (a parent's state owns its
// children's states; a child refers to its parent's weakly), and upward in
// the value chain (a context node owns its parent node), so no cycle can
// leak. Lock order: a parent's state lock before a child's; a state lock is
// never held while closing a done channel, stopping a timer or starting a
// goroutine.
#ifndef GORO_CONTEXT_HPP
#define GORO_CONTEXT_HPP

#include "chan.hpp"
#include "config.hpp"
#include "detail/chan_core.hpp"
#include "detail/scheduler.hpp"
#include "detail/select_core.hpp"
#include "detail/spin_lock.hpp"
#include "detail/timer_heap.hpp"
#include "detail/wait/wait.hpp"
#include "runtime.hpp"
#include "select.hpp"
#include "sync.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace goro {

/// Why a context is done: ctx.err() compares equal to one of these.
enum class context_errc {
  canceled = 1,           ///< its cancel function (or an ancestor's) was called: Go's Canceled
  deadline_exceeded = 2,  ///< its deadline (or an ancestor's) passed: Go's DeadlineExceeded
};

/// The error category of context_errc ("goro.context").
inline const std::error_category& context_category() noexcept {
  struct category final : std::error_category {
    const char* name() const noexcept override { return "goro.context"; }
    std::string message(int code) const override {
      switch (static_cast<context_errc>(code)) {
        case context_errc::canceled:
          return "context canceled";
        case context_errc::deadline_exceeded:
          return "context deadline exceeded";
      }
      return "unknown context error";
    }
  };
  static const category instance;
  return instance;
}

/// Makes context_errc usable as a std::error_code.
inline std::error_code make_error_code(context_errc e) noexcept {
  return {static_cast<int>(e), context_category()};
}

}  // namespace goro

namespace std {
/// context_errc converts to std::error_code and compares with one.
template <>
struct is_error_code_enum<goro::context_errc> : true_type {};
}  // namespace std

namespace goro {

/// What a context-aware wait throws when its context ends it: code() is the
/// context's err(); cause() the cause given to cancel, if any.
class context_error : public std::system_error {
 public:
  explicit context_error(std::error_code code, std::exception_ptr cause = nullptr)
      : std::system_error(code), cause_(std::move(cause)) {}

  /// The cause passed to the cancel function (Go's context.Cause), or null.
  const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::exception_ptr cause_;
};

namespace detail {
/// A new context key identity: one counter for keys of every type, so that
/// two keys never share an id even when their value types differ.
inline std::uint64_t next_context_key_id() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}
}  // namespace detail

/// A key for with_value and context::value, for values of type T. Keys are
/// compared by identity: each key object is distinct from every other, so
/// two libraries cannot collide (Go's advice of an unexported key type,
/// built in). A key is typically a namespace-scope or static object.
template <class T>
class context_key {
 public:
  /// `name` is for diagnostics only.
  explicit context_key(const char* name = "goro::context_key") noexcept
      : id_(detail::next_context_key_id()), name_(name) {}
  context_key(const context_key&) = delete;
  context_key& operator=(const context_key&) = delete;

  /// The name given at construction.
  const char* name() const noexcept { return name_; }
  /// The key's identity: unique in the process, never reused.
  std::uint64_t id() const noexcept { return id_; }

 private:
  std::uint64_t id_;
  const char* name_;
};

class context;

namespace detail {

struct cancel_state;
void cancel_tree(std::shared_ptr<cancel_state> root, context_errc code, std::exception_ptr cause);

/// One after_func registration. state moves once from pending to started (the
/// context ended) or to stopped (stop() won).
struct after_func_entry {
  enum : int { pending = 0, started = 1, stopped = 2 };
  explicit after_func_entry(std::function<void()> f) : fn(std::move(f)) {}
  std::function<void()> fn;
  std::atomic<int> state{pending};
  bool claim(int to) noexcept {
    int expected = pending;
    return state.compare_exchange_strong(expected, to, std::memory_order_acq_rel);
  }
};

/// A context's deadline on a runtime's timer heap. While armed, the heap's
/// reference to the cancel state is `target`, so a context reaches its
/// deadline even if nobody holds it any more (only its done channel, say),
/// as in Go; stop() (on cancel) disarms the timer and drops that reference.
///
/// Locks: `lock` guards sched, target and stopped; it is taken before the
/// heap's lock, never after. The fire function runs outside the heap lock.
struct deadline_timer {
  timer_node node;
  spin_lock lock;
  scheduler* sched = nullptr;            ///< null until armed, and once the runtime has ended
  std::shared_ptr<cancel_state> target;  ///< the heap's reference while armed
  bool stopped = false;

  deadline_timer() noexcept {
    node.fire = &deadline_timer::fire;
    node.abandon = &deadline_timer::abandon;
    node.arg = this;
  }

  /// Arms for `when` on `on`, unless already stopped (a cancel came first).
  /// Its timer-heap slot is reserved here, on the caller's side (throws
  /// std::bad_alloc), and given back when the node leaves the heap: by
  /// stop() if it took it out, else by fire() (timer_heap.hpp: arming never
  /// allocates on a worker's context).
  void arm(scheduler* on, steady_clock::time_point when, std::shared_ptr<cancel_state> t) {
    on->timers().reserve_slot();
    bool earliest = false;
    {
      std::lock_guard<spin_lock> guard(lock);
      if (stopped) {
        on->timers().release_slot();
        return;
      }
      sched = on;
      target = std::move(t);
      node.when = when;
      earliest = on->timers().add(&node);
    }
    on->timer_added(earliest);
  }

  /// Disarms. Returns the heap's reference if it took it (for the caller to
  /// drop outside every lock); a firing already under way keeps its own.
  std::shared_ptr<cancel_state> stop() noexcept {
    std::lock_guard<spin_lock> guard(lock);
    stopped = true;
    if (sched != nullptr && sched->timers().remove(&node)) {
      sched->timers().release_slot();
      return std::move(target);
    }
    return nullptr;
  }

  static void fire(timer_node* n);

  // The runtime ends with this timer armed: let go, and never touch its heap again.
  static void abandon(timer_node* n) {
    auto* self = static_cast<deadline_timer*>(n->arg);
    std::shared_ptr<cancel_state> gone;
    {
      std::lock_guard<spin_lock> guard(self->lock);
      self->sched = nullptr;
      gone = std::move(self->target);
    }
  }
};

/// What a cancellable context (with_cancel, with_deadline, with_timeout)
/// shares between its handles, its cancel function and its children.
///
/// Invariants: `code` goes from 0 to a context_errc once, under `lock`, after
/// `cause` is written; nothing changes `cause` after. Once code is set,
/// children and after_funcs are empty and stay empty, and done (if made) is
/// closed or about to be by the canceller. `slot` is this state's index in
/// its parent's `children`, or npos; guarded by the parent's lock.
struct cancel_state : std::enable_shared_from_this<cancel_state> {
  static constexpr std::size_t npos = ~std::size_t{0};

  explicit cancel_state(std::weak_ptr<cancel_state> p) noexcept : parent(std::move(p)) {}
  cancel_state(const cancel_state&) = delete;
  cancel_state& operator=(const cancel_state&) = delete;

  const std::weak_ptr<cancel_state> parent;  ///< nearest cancellable ancestor's state
  std::atomic<int> code{0};                  ///< 0, or the context_errc
  std::exception_ptr cause;                  ///< written once, before code
  spin_lock lock;
  chan<done_t> done;                                           ///< guarded by lock; made on demand
  std::vector<std::shared_ptr<cancel_state>> children;         ///< guarded by lock
  std::vector<std::shared_ptr<after_func_entry>> after_funcs;  ///< guarded by lock
  std::size_t slot = npos;                                     ///< guarded by parent's lock
  std::shared_ptr<deadline_timer> timer;  ///< set before the state is shared, then constant

  /// The done channel, made now if need be (closed at once if already done).
  chan<done_t> done_chan() {
    std::lock_guard<spin_lock> guard(lock);
    if (!done) {
      done = make_chan<done_t>();
      // Fresh and unseen by anyone: closing it under our lock wakes nobody.
      if (code.load(std::memory_order_relaxed) != 0) done.close();
    }
    return done;
  }

  /// Adds `child` to this state's children, or cancels it at once if this
  /// state is already done (Go's propagateCancel).
  void adopt(const std::shared_ptr<cancel_state>& child) {
    {
      std::lock_guard<spin_lock> guard(lock);
      if (code.load(std::memory_order_relaxed) == 0) {
        child->slot = children.size();
        children.push_back(child);
        return;
      }
    }
    cancel_tree(child, static_cast<context_errc>(code.load(std::memory_order_acquire)), cause);
  }

  /// Takes `child` out of this state's children if it is still there.
  void forget(cancel_state& child) noexcept {
    std::shared_ptr<cancel_state> gone;  // dropped after the lock
    std::lock_guard<spin_lock> guard(lock);
    const std::size_t i = child.slot;
    if (i == npos) return;
    gone = std::move(children[i]);
    if (i + 1 != children.size()) {
      children[i] = std::move(children.back());
      children[i]->slot = i;
    }
    children.pop_back();
    child.slot = npos;
  }

  /// The children registered now (for tests and leak checks).
  std::size_t child_count() {
    std::lock_guard<spin_lock> guard(lock);
    return children.size();
  }

  /// Called when the last context handle of this state is gone. If nothing
  /// can observe its cancellation any more (no done channel handed out, no
  /// child, no after_func), it unregisters from its parent and stops its
  /// timer, so that contexts dropped without cancel do not pile up. (Go
  /// keeps them until the parent is cancelled; go vet asks for the cancel.)
  void last_handle_gone() noexcept {
    {
      std::lock_guard<spin_lock> guard(lock);
      if (done || !children.empty() || !after_funcs.empty()) return;
    }
    if (auto p = parent.lock()) p->forget(*this);
    if (timer) {
      std::shared_ptr<cancel_state> keep = timer->stop();
    }
  }
};

/// Cancels `root` and every descendant, iteratively (a deep tree must not
/// deepen the stack), then takes `root` out of its parent's children.
/// Descendants get root's error and cause, as in Go. Safe to call any number
/// of times, from any thread or goroutine; only the first call per state acts.
inline void cancel_tree(std::shared_ptr<cancel_state> root, context_errc code,
                        std::exception_ptr cause) {
  // A deadline runs this on a worker's own context, where an allocation has
  // nobody to throw to: the work list allocates only for a tree wider than
  // its inline part, and to_start only for after_funcs (what still
  // allocates is a fatal error there, see deadline_timer::fire).
  constexpr std::size_t inline_max = 8;
  std::shared_ptr<cancel_state> inline_work[inline_max];
  std::size_t inline_n = 0;
  std::vector<std::shared_ptr<cancel_state>> spill;
  auto push = [&](std::shared_ptr<cancel_state> st) {
    if (inline_n < inline_max) {
      inline_work[inline_n++] = std::move(st);
    } else {
      spill.push_back(std::move(st));
    }
  };
  std::vector<std::shared_ptr<after_func_entry>> to_start;
  push(root);
  while (inline_n != 0 || !spill.empty()) {
    std::shared_ptr<cancel_state> s;
    if (!spill.empty()) {
      s = std::move(spill.back());
      spill.pop_back();
    } else {
      s = std::move(inline_work[--inline_n]);
    }
    chan<done_t> done;
    {
      std::lock_guard<spin_lock> guard(s->lock);
      if (s->code.load(std::memory_order_relaxed) != 0) continue;
      s->cause = cause;
      s->code.store(static_cast<int>(code), std::memory_order_release);
      done = s->done;
      for (auto& child : s->children) {
        child->slot = cancel_state::npos;  // guarded by s->lock, which we hold
        push(std::move(child));
      }
      s->children.clear();
      s->children.shrink_to_fit();
      for (auto& e : s->after_funcs) to_start.push_back(std::move(e));
      s->after_funcs.clear();
    }
    // code is published before done closes: whoever sees done closed sees err().
    if (done) done.close();
    if (s->timer) {
      std::shared_ptr<cancel_state> keep = s->timer->stop();
    }
  }
  if (auto p = root->parent.lock()) p->forget(*root);
  for (auto& e : to_start) {
    if (e->claim(after_func_entry::started)) go([e] { e->fn(); });
  }
}

inline void deadline_timer::fire(timer_node* n) {
  auto* self = static_cast<deadline_timer*>(n->arg);
  std::shared_ptr<cancel_state> t;
  scheduler* sched = nullptr;
  {
    std::lock_guard<spin_lock> guard(self->lock);
    t = std::move(self->target);
    sched = self->sched;
  }
  // `self` may be freed once t is dropped (t may own it): only t from here.
  sched->timers().release_slot();  // taken out of the heap to fire: its slot is free
  if (!t) return;
  // On a worker's own context: an allocation that fails here (a wide tree of
  // contexts, an after_func's goroutine) has nobody to throw to.
  GORO_TRY { cancel_tree(std::move(t), context_errc::deadline_exceeded, nullptr); }
  GORO_CATCH_ALL {
    fatal("out of memory while cancelling a goro::context at its deadline (on a worker)");
  }
}

/// One link of a context chain. Immutable once made.
struct context_node {
  context_node() = default;
  context_node(const context_node&) = delete;
  context_node& operator=(const context_node&) = delete;
  ~context_node() {
    if (owns_cancel) cancel->last_handle_gone();
    // Let go of the ancestors we alone keep alive one by one, not by
    // recursion: a chain thousands deep must not overflow a goroutine's
    // stack. use_count() == 1 is exact here: nodes have no weak references,
    // so nobody else can start sharing an ancestor only we hold.
    std::shared_ptr<const context_node> p = std::move(parent);
    while (p != nullptr && p.use_count() == 1) {
      std::shared_ptr<const context_node> next = std::move(p->parent);
      p = std::move(next);  // destroys the old p, whose parent is now empty
    }
  }

  /// For values; keeps the chain alive. Mutable only so that a dying node
  /// can take it over (see the destructor); constant while shared.
  mutable std::shared_ptr<const context_node> parent;
  std::shared_ptr<cancel_state> cancel;  ///< nearest cancellable state, or null: never done
  bool owns_cancel = false;              ///< this node made `cancel`
  steady_clock::time_point deadline = steady_clock::time_point::max();  ///< max: none
  std::uint64_t key = 0;              ///< value nodes: the key's id (0: not a value node)
  std::shared_ptr<const void> value;  ///< value nodes: the value, of the key's type
};

struct context_access;
chan_core* done_core_or_throw(const goro::context& ctx);
[[noreturn]] void throw_context_error(const goro::context& ctx);

}  // namespace detail

/// A context, like Go's context.Context: carries a cancellation signal, a
/// deadline and request-scoped values across API boundaries and goroutines.
/// Cheap to copy; copies share everything; safe to use from any number of
/// goroutines and threads at once.
class context {
 public:
  /// background(): never cancelled, no deadline, no values.
  context() noexcept = default;

  /// A channel that is closed when this context is done (cancelled, or its
  /// deadline passed); use it as a select case. Made on first request (and
  /// already closed if the context is done by then). For a context that can
  /// never be done (background, or with_value/without_cancel of one), a nil
  /// channel, whose case is never ready, as in Go.
  recv_chan<done_t> done() const {
    if (node_ == nullptr || node_->cancel == nullptr) return {};
    return node_->cancel->done_chan();
  }

  /// Empty while the context is not done; then context_errc::canceled or
  /// context_errc::deadline_exceeded, for good.
  std::error_code err() const noexcept {
    if (node_ == nullptr || node_->cancel == nullptr) return {};
    const int code = node_->cancel->code.load(std::memory_order_acquire);
    if (code == 0) return {};
    return make_error_code(static_cast<context_errc>(code));
  }

  /// When this context will be cancelled by a deadline (its own or an
  /// ancestor's, the earliest), if any.
  std::optional<clock::time_point> deadline() const noexcept {
    if (node_ == nullptr || node_->deadline == detail::steady_clock::time_point::max()) return {};
    return node_->deadline;
  }

  /// The value stored under `key` by this context or the nearest ancestor
  /// that has one, or nullptr. The pointer stays valid while any context
  /// derived from the one that stored it is alive.
  template <class T>
  const T* value(const context_key<T>& key) const noexcept {
    for (const detail::context_node* n = node_.get(); n != nullptr; n = n->parent.get()) {
      if (n->key == key.id()) return static_cast<const T*>(n->value.get());
    }
    return nullptr;
  }

 private:
  explicit context(std::shared_ptr<const detail::context_node> n) noexcept : node_(std::move(n)) {}
  friend struct detail::context_access;

  std::shared_ptr<const detail::context_node> node_;
};

/// The cancel function of a context made by with_cancel, with_deadline or
/// with_timeout. Calling it cancels that context and its descendants (with
/// context_errc::canceled), stops its deadline timer, and takes it out of
/// its parent; later calls do nothing. Cheap to copy; any thread. A
/// default-constructed one does nothing.
class cancel_func {
 public:
  cancel_func() noexcept = default;

  /// Cancels; `cause` (Go's WithCancelCause) is what goro::cause reports and
  /// what context_error::cause() carries; null means none.
  void operator()(std::exception_ptr cause = nullptr) const {
    if (state_) detail::cancel_tree(state_, context_errc::canceled, std::move(cause));
  }

 private:
  explicit cancel_func(std::shared_ptr<detail::cancel_state> s) noexcept : state_(std::move(s)) {}
  friend struct detail::context_access;
  std::shared_ptr<detail::cancel_state> state_;
};

/// A derived context and the function that cancels it: what with_cancel,
/// with_deadline and with_timeout return, for `auto [ctx, cancel] = ...`.
struct cancelable_context {
  context ctx;         ///< the derived context
  cancel_func cancel;  ///< cancels ctx (and its descendants)
};

namespace detail {

/// The one way into the insides of context and cancel_func, for this header.
struct context_access {
  static const std::shared_ptr<const context_node>& node(const goro::context& c) noexcept {
    return c.node_;
  }
  static cancel_state* state(const goro::context& c) noexcept {
    return c.node_ == nullptr ? nullptr : c.node_->cancel.get();
  }
  static goro::context make(std::shared_ptr<const context_node> n) noexcept {
    return goro::context(std::move(n));
  }

  /// A cancellable child of `parent` with deadline `when` (max: none).
  static cancelable_context derive(const goro::context& parent, steady_clock::time_point when) {
    const std::shared_ptr<const context_node>& p = parent.node_;
    cancel_state* const pstate = p == nullptr ? nullptr : p->cancel.get();
    auto state = std::make_shared<cancel_state>(pstate == nullptr ? std::weak_ptr<cancel_state>()
                                                                  : pstate->weak_from_this());
    const bool timed = when != steady_clock::time_point::max();
    if (timed) state->timer = std::make_shared<deadline_timer>();
    auto node = std::make_shared<context_node>();
    node->parent = p;
    node->cancel = state;
    node->owns_cancel = true;
    node->deadline = timed ? when : (p == nullptr ? steady_clock::time_point::max() : p->deadline);
    if (pstate != nullptr) pstate->adopt(state);
    if (timed) {
      if (steady_clock::now() >= when) {
        cancel_tree(state, context_errc::deadline_exceeded, nullptr);
      } else {
        state->timer->arm(&scheduler_for_go(), when, state);
      }
    }
    return {goro::context(std::move(node)), cancel_func(std::move(state))};
  }
};

inline chan_core* done_core_or_throw(const goro::context& ctx) {
  if (ctx.err()) throw_context_error(ctx);
  return ctx.done().core();
}

[[noreturn]] inline void throw_context_error(const goro::context& ctx) {
  // err() is an acquire load of the code, which was published after the
  // cause was written: read it first, then the cause.
  const std::error_code code = ctx.err();
  cancel_state* s = context_access::state(ctx);
  // Only a done context gets here, and a context without state is never
  // done; checked in every build (a cold path) so that s is never null.
  if (s == nullptr) fatal("context error of a context that cannot be done");
  GORO_ASSERT(code);
  throw_error(context_error(code, s->cause));
}

}  // namespace detail

/// The root of every context tree: never cancelled, no deadline, no values
/// (Go's context.Background). Same as a default-constructed context.
inline context background() noexcept { return {}; }

/// Same as background(), for code that has not decided yet (Go's context.TODO).
inline context todo() noexcept { return {}; }

/// A child of parent that is done when its cancel function is called or
/// parent is done, whichever comes first (Go's WithCancel; the cancel
/// function also takes a cause, as WithCancelCause's does). Call cancel
/// once the work is over, to free what the context holds in its parent.
inline cancelable_context with_cancel(const context& parent) {
  return detail::context_access::derive(parent, detail::steady_clock::time_point::max());
}

/// A child of parent that is also done (deadline_exceeded) at `when` (Go's
/// WithDeadline). If parent's deadline is no later, it is with_cancel(parent).
/// The deadline runs on the calling goroutine's runtime, or the default
/// runtime from a plain thread (like goro::timer); cancel stops and frees it.
template <class Clock, class Duration>
cancelable_context with_deadline(const context& parent,
                                 const std::chrono::time_point<Clock, Duration>& when) {
  const detail::steady_clock::time_point t = detail::to_steady(when);
  const std::optional<clock::time_point> pd = parent.deadline();
  if (pd && *pd <= t) return with_cancel(parent);
  return detail::context_access::derive(parent, t);
}

/// with_deadline(parent, now + d) (Go's WithTimeout).
template <class Rep, class Period>
cancelable_context with_timeout(const context& parent,
                                const std::chrono::duration<Rep, Period>& d) {
  return with_deadline(parent, detail::deadline_after(d));
}

/// A child of parent carrying `value` under `key` (Go's WithValue), stored
/// as a T. Use it for request-scoped data that crosses API boundaries, not
/// for optional parameters.
template <class T, class V>
context with_value(const context& parent, const context_key<T>& key, V&& value) {
  static_assert(std::is_constructible_v<T, V&&>, "with_value: the value must make a T");
  const auto& p = detail::context_access::node(parent);
  auto node = std::make_shared<detail::context_node>();
  node->parent = p;
  if (p != nullptr) {
    node->cancel = p->cancel;
    node->deadline = p->deadline;
  }
  node->key = key.id();
  node->value = std::make_shared<const T>(std::forward<V>(value));
  return detail::context_access::make(std::move(node));
}

/// A child of parent with its values but never done, and no deadline, even
/// when parent is (Go's WithoutCancel): for work that must outlive a request.
inline context without_cancel(const context& parent) {
  const auto& p = detail::context_access::node(parent);
  if (p == nullptr) return {};
  auto node = std::make_shared<detail::context_node>();
  node->parent = p;
  return detail::context_access::make(std::move(node));
}

/// Why ctx is done (Go's context.Cause): the cause given to the cancel
/// function that ended it, or, with none given (or for a deadline), a
/// context_error with ctx.err(); null while ctx is not done.
inline std::exception_ptr cause(const context& ctx) {
  detail::cancel_state* s = detail::context_access::state(ctx);
  if (s == nullptr || s->code.load(std::memory_order_acquire) == 0) return nullptr;
  if (s->cause) return s->cause;
  return std::make_exception_ptr(context_error(ctx.err()));
}

/// The handle of an after_func registration.
class after_func_handle {
 public:
  after_func_handle() noexcept = default;

  /// Prevents f from running. Returns true if that happened now; false if f
  /// was already started (the context ended first) or stop() was called
  /// before (Go's stop function).
  bool stop() {
    if (!entry_ || !entry_->claim(detail::after_func_entry::stopped)) return false;
    if (auto s = state_.lock()) {
      std::lock_guard<detail::spin_lock> guard(s->lock);
      auto& v = s->after_funcs;
      v.erase(std::remove(v.begin(), v.end(), entry_), v.end());
    }
    return true;
  }

 private:
  friend struct detail::context_access;
  template <class F>
  friend after_func_handle after_func(const context& ctx, F&& f);
  after_func_handle(std::shared_ptr<detail::after_func_entry> e,
                    std::weak_ptr<detail::cancel_state> s) noexcept
      : entry_(std::move(e)), state_(std::move(s)) {}
  std::shared_ptr<detail::after_func_entry> entry_;
  std::weak_ptr<detail::cancel_state> state_;
};

/// Arranges for f() to run in its own goroutine once ctx is done (at once
/// if it already is), like Go's context.AfterFunc. Independent calls run
/// independently. The goroutine runs on the runtime of whoever ends the
/// context (the default runtime when a plain thread cancels). For a context
/// that can never be done, f never runs. An exception escaping f is an
/// unhandled exception in that goroutine.
template <class F>
after_func_handle after_func(const context& ctx, F&& f) {
  auto entry =
      std::make_shared<detail::after_func_entry>(std::function<void()>(std::forward<F>(f)));
  detail::cancel_state* s = detail::context_access::state(ctx);
  if (s == nullptr) return after_func_handle(std::move(entry), {});
  {
    std::lock_guard<detail::spin_lock> guard(s->lock);
    if (s->code.load(std::memory_order_relaxed) == 0) {
      s->after_funcs.push_back(entry);
      return after_func_handle(std::move(entry), s->weak_from_this());
    }
  }
  if (entry->claim(detail::after_func_entry::started)) go([entry] { entry->fn(); });
  return after_func_handle(std::move(entry), s->weak_from_this());
}

namespace detail {
/// The children registered now in ctx's own cancel state (0 for a context
/// that has none). For tests: a parent must not keep children it has lost.
inline std::size_t context_child_count(const goro::context& ctx) {
  cancel_state* s = context_access::state(ctx);
  return s == nullptr ? 0 : s->child_count();
}
}  // namespace detail

// ---------------------------------------------------------------------------
// Context-aware waits (see the file comment for their common shape).

/// sleep_until(t), unless ctx is done first: then throws context_error.
template <class Clock, class Duration>
void sleep_until(const context& ctx, const std::chrono::time_point<Clock, Duration>& t) {
  detail::chan_core* done = detail::done_core_or_throw(ctx);
  std::optional<done_t> sink;
  // A receive from done with a deadline: the deadline passing is the sleep
  // completing; the channel closing is the context ending it.
  if (detail::chan_recv(done, &sink, detail::wait_mode::until, detail::to_steady(t)) ==
      op_status::closed) {
    detail::throw_context_error(ctx);
  }
}

/// sleep_for(d), unless ctx is done first: then throws context_error.
template <class Rep, class Period>
void sleep_for(const context& ctx, const std::chrono::duration<Rep, Period>& d) {
  sleep_until(ctx, detail::deadline_after(d));
}

/// select(cases...), unless ctx is done first: then throws context_error and
/// no case has completed. Same as adding case_recv(ctx.done()) and throwing
/// when it is chosen; a default case still makes it non-blocking.
template <class... Cases>
std::size_t select(const context& ctx, Cases&&... cases) {
  detail::chan_core* done = detail::done_core_or_throw(ctx);
  const std::size_t i = detail::select_with_done(done, cases...);
  if (i == detail::done_won) detail::throw_context_error(ctx);
  return i;
}

namespace detail {
/// A channel operation (one select case) or the end of ctx, whichever comes
/// first; throws context_error for the latter.
inline void chan_op_or_done(const goro::context& ctx, select_case op) {
  chan_core* done = done_core_or_throw(ctx);
  std::optional<done_t> sink;
  select_case cases[2] = {op, {done, false, &sink}};
  std::uint32_t poll_order[2];
  chan_core* lock_order[2];
  waiter_slot waiters[2];
  const std::size_t n = done == nullptr ? 1 : 2;
  if (select_run(cases, n, false, {poll_order, lock_order, waiters}) == 1) {
    throw_context_error(ctx);
  }
}

template <class T>
void chan_handle<T>::send(const goro::context& ctx, T&& v) const {
  chan_op_or_done(ctx, {core(), true, &v});
}

template <class T>
std::optional<T> chan_handle<T>::recv(const goro::context& ctx) const {
  std::optional<T> out;
  chan_op_or_done(ctx, {core(), false, &out});
  return out;
}
}  // namespace detail

inline void mutex::lock(const context& ctx) {
  if (!sem_.acquire_or_done(detail::done_core_or_throw(ctx))) detail::throw_context_error(ctx);
}

inline void semaphore::acquire(const context& ctx) {
  if (!sem_.acquire_or_done(detail::done_core_or_throw(ctx))) detail::throw_context_error(ctx);
}

inline void wait_group::wait(const context& ctx) {
  if (!wait_or_done(detail::done_core_or_throw(ctx))) detail::throw_context_error(ctx);
}

}  // namespace goro

#endif
