// The model-checked random tester: random channel programs, run on a goro
// runtime and checked against the semantics of Go's channels.
//
// A program is a few channels (unbuffered or small buffers) and a few actors,
// each a goroutine or a plain thread running a straight list of operations:
// send, recv, try_send, try_recv, send_for, recv_for, select (sends, receives,
// a timeout, a default) and select_set, close, yield. Every operation is
// logged with the value it moved, its outcome and two stamps from one global
// sequentially consistent counter (taken before it starts and after it
// returns), which orders operations that did not overlap in time. After a
// while (the program's own close time) the runner closes every channel still
// open, which ends every blocking operation, waits for the actors, drains what
// is still buffered and checks the whole log (check_run, below).
//
// The program is a function of its entropy only: a 64-bit seed (the unit test,
// the soak) or the bytes a fuzzer gives (tests/fuzz/). The schedule is not: a
// seed replays the same program, and a failure that depends on an interleaving
// may need a few replays to show again.
//
// Include goro (modular or single header) before this file. No test framework:
// the caller decides what a violation does (Catch2 check, or abort for the
// fuzzer).
#ifndef GORO_TEST_SUPPORT_MODEL_PROGRAM_HPP
#define GORO_TEST_SUPPORT_MODEL_PROGRAM_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace goro_model {

// ---- entropy ----------------------------------------------------------------

/// Where a program's choices come from: a splitmix64 stream from a seed, or a
/// fuzzer's bytes (0 once they run out, so short inputs make small programs).
class entropy {
 public:
  explicit entropy(std::uint64_t seed) noexcept : state_(seed) {}
  entropy(const std::uint8_t* data, std::size_t size) noexcept
      : bytes_(data), size_(size), fuzz_(true) {}

  /// A number in [0, n); 0 when n is 0.
  std::uint32_t below(std::uint32_t n) noexcept {
    if (n <= 1) return 0;
    if (fuzz_) {
      std::uint32_t v = 0;
      // One byte for small ranges, two for larger: each choice eats little input.
      const int nbytes = n <= 256 ? 1 : 2;
      for (int i = 0; i < nbytes; ++i) {
        v <<= 8;
        if (pos_ < size_) v |= bytes_[pos_++];
      }
      return v % n;
    }
    return static_cast<std::uint32_t>(next() % n);
  }

  /// True with probability about num/den.
  bool chance(std::uint32_t num, std::uint32_t den) noexcept { return below(den) < num; }

 private:
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_ = 0;
  const std::uint8_t* bytes_ = nullptr;
  std::size_t size_ = 0;
  std::size_t pos_ = 0;
  bool fuzz_ = false;
};

// ---- programs ---------------------------------------------------------------

/// One operation of an actor.
enum class op_kind : std::uint8_t {
  send,        ///< blocking send
  recv,        ///< blocking recv
  try_send,    ///< non-blocking send
  try_recv,    ///< non-blocking recv
  send_for,    ///< send with a timeout of `micros`
  recv_for,    ///< recv with a timeout of `micros`
  select,      ///< goro::select over `cases` (+ a timeout or default tail)
  select_set,  ///< a goro::select_set over `cases`, selected `rounds` times
  close,       ///< close `chan`
  yield,       ///< goro::yield (a goroutine) or std::this_thread::yield
};

/// One case of a select or select_set: a send or a receive on a channel.
struct case_spec {
  bool send = false;
  std::uint32_t chan = 0;
};

/// What ends a select besides its cases.
enum class select_tail : std::uint8_t { none, timeout, fallback };

/// An operation and its arguments.
struct op {
  op_kind kind = op_kind::yield;
  std::uint32_t chan = 0;        ///< channel of a plain operation or close
  std::uint32_t micros = 0;      ///< timeout of a _for operation or a select's timeout case
  std::vector<case_spec> cases;  ///< select / select_set cases (1 to 3 for select)
  select_tail tail = select_tail::none;
  std::uint32_t rounds = 1;  ///< select_set: how many select() calls
};

/// An actor: a goroutine or a plain thread and what it does.
struct actor_spec {
  bool thread = false;
  std::vector<op> ops;
};

/// A whole program.
struct program {
  std::vector<std::size_t> capacities;  ///< one per channel
  std::vector<actor_spec> actors;
  std::uint32_t close_after_us = 0;  ///< when the runner closes what is still open
};

/// Makes a program from `e`. `max_actors` bounds the actors (at least 1).
inline program generate(entropy& e, std::uint32_t max_actors = 6, std::uint32_t max_ops = 24) {
  program p;
  const std::uint32_t nchan = 1 + e.below(3);
  for (std::uint32_t i = 0; i < nchan; ++i) p.capacities.push_back(e.below(4));
  const std::uint32_t nactors = 1 + e.below(max_actors);
  for (std::uint32_t a = 0; a < nactors; ++a) {
    actor_spec actor;
    actor.thread = e.chance(1, 4);
    const std::uint32_t nops = 1 + e.below(max_ops);
    for (std::uint32_t i = 0; i < nops; ++i) {
      op o;
      const std::uint32_t pick = e.below(100);
      o.chan = e.below(nchan);
      o.micros = e.chance(1, 4) ? 0 : e.below(1500);
      if (pick < 16) {
        o.kind = op_kind::send;
      } else if (pick < 32) {
        o.kind = op_kind::recv;
      } else if (pick < 42) {
        o.kind = op_kind::try_send;
      } else if (pick < 52) {
        o.kind = op_kind::try_recv;
      } else if (pick < 60) {
        o.kind = op_kind::send_for;
      } else if (pick < 68) {
        o.kind = op_kind::recv_for;
      } else if (pick < 84) {
        o.kind = op_kind::select;
        const std::uint32_t ncases = 1 + e.below(3);
        for (std::uint32_t c = 0; c < ncases; ++c)
          o.cases.push_back({e.chance(1, 2), e.below(nchan)});
        o.tail = static_cast<select_tail>(e.below(3));
      } else if (pick < 92) {
        o.kind = op_kind::select_set;
        const std::uint32_t ncases = 1 + e.below(4);
        for (std::uint32_t c = 0; c < ncases; ++c)
          o.cases.push_back({e.chance(1, 2), e.below(nchan)});
        o.tail = e.chance(1, 3) ? select_tail::fallback : select_tail::none;
        o.rounds = 1 + e.below(4);
      } else if (pick < 96) {
        o.kind = op_kind::close;
      } else {
        o.kind = op_kind::yield;
      }
      actor.ops.push_back(std::move(o));
    }
    p.actors.push_back(std::move(actor));
  }
  p.close_after_us = e.below(8000);
  return p;
}

inline const char* name_of(op_kind k) noexcept {
  switch (k) {
    case op_kind::send:
      return "send";
    case op_kind::recv:
      return "recv";
    case op_kind::try_send:
      return "try_send";
    case op_kind::try_recv:
      return "try_recv";
    case op_kind::send_for:
      return "send_for";
    case op_kind::recv_for:
      return "recv_for";
    case op_kind::select:
      return "select";
    case op_kind::select_set:
      return "select_set";
    case op_kind::close:
      return "close";
    case op_kind::yield:
      return "yield";
  }
  return "?";
}

/// The program as text, for a failure report.
inline std::string describe(const program& p) {
  std::ostringstream out;
  out << "channels:";
  for (std::size_t c = 0; c < p.capacities.size(); ++c)
    out << " c" << c << "(cap " << p.capacities[c] << ")";
  out << "; runner closes all after " << p.close_after_us << " us\n";
  for (std::size_t a = 0; a < p.actors.size(); ++a) {
    out << "  actor " << a << (p.actors[a].thread ? " (thread):" : " (goroutine):");
    for (const op& o : p.actors[a].ops) {
      out << ' ' << name_of(o.kind);
      if (o.kind == op_kind::select || o.kind == op_kind::select_set) {
        out << '[';
        for (std::size_t i = 0; i < o.cases.size(); ++i)
          out << (i ? "," : "") << (o.cases[i].send ? "send c" : "recv c") << o.cases[i].chan;
        if (o.tail == select_tail::timeout) out << ",after " << o.micros << "us";
        if (o.tail == select_tail::fallback) out << ",default";
        if (o.kind == op_kind::select_set) out << " x" << o.rounds;
        out << ']';
      } else if (o.kind != op_kind::yield) {
        out << " c" << o.chan;
        if (o.kind == op_kind::send_for || o.kind == op_kind::recv_for)
          out << ' ' << o.micros << "us";
      }
      out << ';';
    }
    out << '\n';
  }
  return out.str();
}

// ---- running ----------------------------------------------------------------

/// How an operation ended.
enum class outcome : std::uint8_t {
  ok,            ///< the value moved (or the close happened)
  closed,        ///< status closed, or a receive of nullopt
  timeout,       ///< a _for operation's deadline, or a select's timeout case
  would_block,   ///< try_send full / try_recv empty / select default
  threw_closed,  ///< closed_channel was thrown
};

/// What an event was.
enum class event_kind : std::uint8_t { send, recv, close };

/// One logged step. `value` is the value sent or received (for a send, the
/// value attempted whatever the outcome). Stamps: see the file comment.
struct event {
  event_kind kind = event_kind::send;
  outcome result = outcome::ok;
  bool in_select = false;  ///< by a select or select_set (may have lost to another case)
  std::uint32_t chan = 0;
  std::uint64_t value = 0;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
};

/// Values carry who sent them, on which channel, and a number unique per
/// sender and channel (allocated when the send is set up).
inline std::uint64_t make_value(std::uint32_t actor, std::uint32_t chan,
                                std::uint32_t seq) noexcept {
  return (std::uint64_t{actor} << 40) | (std::uint64_t{chan} << 32) | seq;
}
inline std::uint32_t value_actor(std::uint64_t v) noexcept {
  return static_cast<std::uint32_t>(v >> 40);
}
inline std::uint32_t value_chan(std::uint64_t v) noexcept {
  return static_cast<std::uint32_t>((v >> 32) & 0xff);
}
inline std::uint32_t value_seq(std::uint64_t v) noexcept {
  return static_cast<std::uint32_t>(v & 0xffffffffU);
}

/// The actor number the runner logs its own closes and drains under.
constexpr std::uint32_t runner_actor = 0xffff;

/// The log of a run and what the checker found.
struct run_result {
  std::vector<std::vector<event>> logs;  ///< one per actor, then the runner's
  std::vector<std::string> violations;
  std::uint64_t operations = 0;  ///< operations the actors executed
  bool hung = false;             ///< actors still running long after every close
};

namespace detail {

/// Shared by the actors of one run.
struct run_state {
  std::vector<goro::chan<std::uint64_t>> chans;
  std::atomic<std::uint64_t> clock{0};
  std::atomic<std::uint32_t> running{0};
  std::atomic<std::uint64_t> operations{0};
  std::uint64_t stamp() noexcept { return clock.fetch_add(1, std::memory_order_seq_cst); }
};

/// One actor's view while it runs.
class actor_run {
 public:
  actor_run(run_state& s, std::uint32_t id, bool thread, std::vector<event>& log,
            std::vector<std::string>& errors)
      : s_(s),
        id_(id),
        thread_(thread),
        log_(log),
        errors_(errors),
        seq_(s.chans.size(), 0),
        known_closed_(s.chans.size(), false) {}

  void run(const std::vector<op>& ops) {
    for (const op& o : ops) {
      try {
        step(o);
      } catch (const std::exception& ex) {
        error(std::string("unexpected exception from ") + name_of(o.kind) + ": " + ex.what());
      } catch (...) {
        error(std::string("unexpected non-std exception from ") + name_of(o.kind));
      }
      s_.operations.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  std::uint64_t next_value(std::uint32_t c) { return make_value(id_, c, seq_[c]++); }

  void error(std::string what) {
    errors_.push_back("actor " + std::to_string(id_) + ": " + std::move(what));
  }

  event& log(event_kind k, std::uint32_t c, std::uint64_t v, std::uint64_t start,
             bool in_select = false) {
    event e;
    e.kind = k;
    e.chan = c;
    e.value = v;
    e.start = start;
    e.in_select = in_select;
    log_.push_back(e);
    return log_.back();
  }

  void log_recv(std::uint32_t c, const std::optional<std::uint64_t>& v, std::uint64_t start,
                bool in_select) {
    event& e = log(event_kind::recv, c, v ? *v : 0, start, in_select);
    e.result = v ? outcome::ok : outcome::closed;
    if (!v) known_closed_[c] = true;
    e.end = s_.stamp();
  }

  template <class D>
  void pause(D d) {
    if (thread_)
      std::this_thread::sleep_for(d);
    else
      goro::sleep_for(d);
  }

  void step(const op& o) {
    const std::uint32_t c = o.chan;
    const goro::chan<std::uint64_t>& ch = s_.chans[c];
    const std::chrono::microseconds timeout(o.micros);
    switch (o.kind) {
      case op_kind::send:
      case op_kind::send_for:
      case op_kind::try_send: {
        const std::uint64_t v = next_value(c);
        const bool knew_closed = known_closed_[c];
        log(event_kind::send, c, v, s_.stamp());
        const std::size_t index = log_.size() - 1;  // log_ may grow no more until it is filled in
        outcome r = outcome::ok;
        try {
          if (o.kind == op_kind::send) {
            ch.send(v);
          } else {
            const goro::op_status st =
                o.kind == op_kind::try_send ? ch.try_send(v) : ch.send_for(v, timeout);
            r = st == goro::op_status::ok        ? outcome::ok
                : st == goro::op_status::closed  ? outcome::closed
                : st == goro::op_status::timeout ? outcome::timeout
                                                 : outcome::would_block;
            if (o.kind == op_kind::try_send && st != goro::op_status::ok &&
                st != goro::op_status::full && st != goro::op_status::closed)
              error("try_send returned a status other than ok, full, closed");
            if (o.kind == op_kind::send_for && st != goro::op_status::ok &&
                st != goro::op_status::timeout)
              error("send_for returned a status other than ok, timeout (closed must throw)");
          }
        } catch (const goro::closed_channel&) {
          r = outcome::threw_closed;
          if (o.kind == op_kind::try_send)
            error("try_send threw closed_channel (it must return closed)");
        }
        log_[index].result = r;
        log_[index].end = s_.stamp();
        if (knew_closed && r != outcome::closed && r != outcome::threw_closed)
          error("a send on a channel this actor knew closed did not fail as closed (c" +
                std::to_string(c) + ")");
        break;
      }
      case op_kind::recv: {
        const std::uint64_t start = s_.stamp();
        log_recv(c, ch.recv(), start, false);
        break;
      }
      case op_kind::try_recv:
      case op_kind::recv_for: {
        const bool knew_closed = known_closed_[c];
        const std::uint64_t start = s_.stamp();
        goro::recv_result<std::uint64_t> r =
            o.kind == op_kind::try_recv ? ch.try_recv() : ch.recv_for(timeout);
        if ((r.status == goro::op_status::ok) != r.value.has_value())
          error("recv_result: status and value disagree");
        if (r.status == goro::op_status::ok || r.status == goro::op_status::closed) {
          log_recv(c, r.value, start, false);
        } else {
          if (knew_closed)
            error("try_recv/recv_for on a channel known closed did not return ok or closed");
          const bool want = o.kind == op_kind::try_recv ? r.status == goro::op_status::empty
                                                        : r.status == goro::op_status::timeout;
          if (!want) error("try_recv/recv_for returned an impossible status");
        }
        break;
      }
      case op_kind::close: {
        log(event_kind::close, c, 0, s_.stamp());
        const std::size_t index = log_.size() - 1;
        outcome r = outcome::ok;
        try {
          ch.close();
        } catch (const goro::closed_channel&) {
          r = outcome::threw_closed;
        }
        log_[index].result = r;
        log_[index].end = s_.stamp();
        known_closed_[c] = true;
        break;
      }
      case op_kind::select:
        select_values_.clear();
        run_select(o, 0);
        break;
      case op_kind::select_set:
        run_select_set(o);
        break;
      case op_kind::yield:
        if (thread_)
          std::this_thread::yield();
        else
          goro::yield();
        break;
    }
  }

  // ---- select: the cases are built one by one; each combination of send and
  // receive cases is its own instantiation, so 1 to 3 cases give 14 shapes.

  struct select_probe {
    std::size_t handlers_run = 0;
    std::size_t handler_index = 0;
  };

  template <class... Cases>
  void run_select(const op& o, std::size_t i, Cases&&... cases) {
    if constexpr (sizeof...(Cases) < 3) {
      if (i < o.cases.size()) {
        const case_spec cs = o.cases[i];
        const goro::chan<std::uint64_t>& ch = s_.chans[cs.chan];
        if (cs.send) {
          const std::uint64_t v = next_value(cs.chan);
          select_values_.push_back(v);
          run_select(o, i + 1, std::forward<Cases>(cases)...,
                     goro::case_send(ch, v, [this, i]() { note_handler(i); }));
        } else {
          run_select(o, i + 1, std::forward<Cases>(cases)...,
                     goro::case_recv(ch, [this, i](std::optional<std::uint64_t> v) {
                       note_handler(i);
                       received_ = v;
                     }));
        }
        return;
      }
    }
    finish_select(o, std::forward<Cases>(cases)...);
  }

  void note_handler(std::size_t i) {
    ++probe_.handlers_run;
    probe_.handler_index = i;
  }

  template <class... Cases>
  void finish_select(const op& o, Cases&&... cases) {
    const std::size_t n = sizeof...(Cases);
    probe_ = select_probe{};
    received_.reset();
    const std::vector<std::uint64_t> values = select_values_;  // one per send case, in case order
    bool ready_known = false;  // a case this actor knows is ready (closed channel)
    for (const case_spec& cs : o.cases)
      if (known_closed_[cs.chan]) ready_known = true;
    const std::uint64_t start = s_.stamp();
    std::size_t chosen = 0;
    bool threw = false;
    bool timed_out = false;
    bool defaulted = false;
    try {
      if (o.tail == select_tail::timeout) {
        // A local channel: a case must not outlive the channel it names.
        goro::recv_chan<goro::clock::time_point> t =
            goro::after(std::chrono::microseconds(o.micros));
        chosen = goro::select(std::forward<Cases>(cases)...,
                              goro::case_recv(t, [this]() { note_handler(n); }));
        timed_out = chosen == n;
      } else if (o.tail == select_tail::fallback) {
        chosen = goro::select(std::forward<Cases>(cases)...,
                              goro::case_default([this]() { note_handler(n); }));
        defaulted = chosen == n;
      } else {
        chosen = goro::select(std::forward<Cases>(cases)...);
      }
    } catch (const goro::closed_channel&) {
      threw = true;
    }
    const std::uint64_t end = s_.stamp();
    if (threw) {
      if (probe_.handlers_run != 0) error("select threw closed_channel after running a handler");
      bool has_send = false;
      for (const case_spec& cs : o.cases) has_send = has_send || cs.send;
      if (!has_send) error("select without a send case threw closed_channel");
      return;
    }
    if (probe_.handlers_run != 1) {
      error("select ran " + std::to_string(probe_.handlers_run) + " handlers");
      return;
    }
    if (probe_.handler_index != chosen)
      error("select returned a case other than the one whose handler ran");
    if (defaulted && ready_known)
      error("select took the default with a case on a channel known closed");
    if (timed_out || defaulted) return;
    if (chosen >= o.cases.size()) {
      error("select returned an index past its cases");
      return;
    }
    const case_spec cs = o.cases[chosen];
    if (cs.send) {
      std::size_t k = 0;
      for (std::size_t i = 0; i < chosen; ++i)
        if (o.cases[i].send) ++k;
      event& e = log(event_kind::send, cs.chan, values[k], start, true);
      e.result = outcome::ok;
      e.end = end;
    } else {
      event& e = log(event_kind::recv, cs.chan, received_ ? *received_ : 0, start, true);
      e.result = received_ ? outcome::ok : outcome::closed;
      e.end = end;
      if (!received_) known_closed_[cs.chan] = true;
    }
  }

  void run_select_set(const op& o) {
    goro::select_set sel;
    std::vector<std::uint64_t> pending(o.cases.size(), 0);  // the value a send case holds
    std::size_t fired = o.cases.size();
    std::optional<std::uint64_t> got;
    std::size_t handlers = 0;
    for (std::size_t i = 0; i < o.cases.size(); ++i) {
      const case_spec cs = o.cases[i];
      const goro::chan<std::uint64_t>& ch = s_.chans[cs.chan];
      if (cs.send) {
        pending[i] = next_value(cs.chan);
        sel.add_send(ch, pending[i], [&handlers, &fired, i]() {
          ++handlers;
          fired = i;
        });
      } else {
        sel.add_recv(ch,
                     [&handlers, &fired, &got](std::size_t index, std::optional<std::uint64_t> v) {
                       ++handlers;
                       fired = index;
                       got = v;
                     });
      }
    }
    bool defaulted = false;
    if (o.tail == select_tail::fallback)
      sel.set_default([&handlers, &defaulted]() {
        ++handlers;
        defaulted = true;
      });
    for (std::uint32_t round = 0; round < o.rounds; ++round) {
      bool any_enabled = false;
      for (std::size_t i = 0; i < sel.size(); ++i) any_enabled = any_enabled || sel.enabled(i);
      if (!any_enabled && o.tail != select_tail::fallback) return;  // it would block forever
      handlers = 0;
      fired = o.cases.size();
      defaulted = false;
      got.reset();
      bool ready_known = false;
      for (std::size_t i = 0; i < o.cases.size(); ++i)
        if (sel.enabled(i) && known_closed_[o.cases[i].chan]) ready_known = true;
      const std::uint64_t start = s_.stamp();
      std::size_t chosen = 0;
      try {
        chosen = sel.select();
      } catch (const goro::closed_channel&) {
        if (handlers != 0) error("select_set threw closed_channel after running a handler");
        return;  // which send case it was is unknown: stop using this set
      }
      const std::uint64_t end = s_.stamp();
      if (handlers != 1) {
        error("select_set ran " + std::to_string(handlers) + " handlers");
        return;
      }
      if (chosen == goro::select_set::default_index) {
        if (!defaulted) error("select_set returned default_index without running the default");
        if (ready_known)
          error("select_set took the default with an enabled case on a channel known closed");
        continue;
      }
      if (chosen != fired || chosen >= o.cases.size()) {
        error("select_set returned a case other than the one whose handler ran");
        return;
      }
      const case_spec cs = o.cases[chosen];
      if (cs.send) {
        event& e = log(event_kind::send, cs.chan, pending[chosen], start, true);
        e.result = outcome::ok;
        e.end = end;
        if (sel.enabled(chosen)) error("a select_set send case stayed enabled after it fired");
        pending[chosen] = next_value(cs.chan);
        sel.rearm_send<std::uint64_t>(chosen, pending[chosen]);
      } else {
        event& e = log(event_kind::recv, cs.chan, got ? *got : 0, start, true);
        e.result = got ? outcome::ok : outcome::closed;
        e.end = end;
        if (!got) {
          known_closed_[cs.chan] = true;
          sel.disable(chosen);
        }
      }
    }
  }

  run_state& s_;
  std::uint32_t id_;
  bool thread_;
  std::vector<event>& log_;
  std::vector<std::string>& errors_;
  std::vector<std::uint32_t> seq_;
  std::vector<bool> known_closed_;
  select_probe probe_;
  std::optional<std::uint64_t> received_;     // what a select's receive case got
  std::vector<std::uint64_t> select_values_;  // the values of a select's send cases
};

}  // namespace detail

/// Checks a finished run's logs (filled in by run, below) against channel
/// semantics; appends what it finds to r.violations.
inline void check_run(const program& p, run_result& r) {
  auto fail = [&r](std::string what) {
    if (r.violations.size() < 20) r.violations.push_back(std::move(what));
  };
  const std::size_t nchan = p.capacities.size();
  // Closes: exactly one succeeds per channel; a failed close ended after it began.
  std::vector<const event*> closer(nchan, nullptr);
  for (const auto& log : r.logs)
    for (const event& e : log)
      if (e.kind == event_kind::close && e.result == outcome::ok) {
        if (closer[e.chan]) fail("channel c" + std::to_string(e.chan) + " was closed twice");
        closer[e.chan] = &e;
      }
  for (std::size_t c = 0; c < nchan; ++c)
    if (!closer[c]) fail("channel c" + std::to_string(c) + " was never closed");
  if (!r.violations.empty()) return;
  for (const auto& log : r.logs)
    for (const event& e : log) {
      const event& cl = *closer[e.chan];
      const std::string on = " on c" + std::to_string(e.chan);
      switch (e.kind) {
        case event_kind::close:
          if (e.result == outcome::threw_closed && e.end < cl.start)
            fail("close threw closed_channel before the channel was closed" + on);
          break;
        case event_kind::send:
          if (e.result == outcome::ok && e.start > cl.end)
            fail("a send that began after close succeeded" + on);
          if (!e.in_select && e.start > cl.end && e.result != outcome::closed &&
              e.result != outcome::threw_closed)
            fail("a send that began after close did not fail as closed" + on);
          if ((e.result == outcome::closed || e.result == outcome::threw_closed) &&
              e.end < cl.start)
            fail("a send failed as closed before the channel was closed" + on);
          break;
        case event_kind::recv:
          if (e.result == outcome::closed && e.end < cl.start)
            fail("a receive saw closed before the channel was closed" + on);
          if (e.result == outcome::ok && value_chan(e.value) != e.chan)
            fail("a receive" + on + " got a value sent on c" + std::to_string(value_chan(e.value)));
          break;
      }
    }
  // Nothing is received from a closed and drained channel: a receive that
  // began after some receive returned closed must not get a value.
  std::vector<std::uint64_t> drained_at(nchan, ~std::uint64_t{0});
  for (const auto& log : r.logs)
    for (const event& e : log)
      if (e.kind == event_kind::recv && e.result == outcome::closed)
        drained_at[e.chan] = std::min(drained_at[e.chan], e.end);
  for (const auto& log : r.logs)
    for (const event& e : log)
      if (e.kind == event_kind::recv && e.result == outcome::ok && e.start > drained_at[e.chan])
        fail("a value was received from c" + std::to_string(e.chan) +
             " after it was seen closed and drained");
  // Conservation: every value sent is received exactly once (by an actor or
  // the runner's drain); nothing is received that was not sent.
  std::map<std::uint64_t, int> sent;  // value -> 1 sent ok, 0 attempted and failed
  for (const auto& log : r.logs)
    for (const event& e : log)
      if (e.kind == event_kind::send) {
        auto it = sent.find(e.value);
        const int ok = e.result == outcome::ok ? 1 : 0;
        if (it == sent.end())
          sent.emplace(e.value, ok);
        else if (ok)
          it->second = 1;  // a select logs only its chosen send; a value is attempted once
      }
  std::set<std::uint64_t> received;
  for (const auto& log : r.logs)
    for (const event& e : log)
      if (e.kind == event_kind::recv && e.result == outcome::ok) {
        if (!received.insert(e.value).second)
          fail("value " + std::to_string(e.value) + " was received twice");
        auto it = sent.find(e.value);
        if (it == sent.end() || it->second != 1)
          fail("value " + std::to_string(e.value) + " (sender " +
               std::to_string(value_actor(e.value)) + ", seq " +
               std::to_string(value_seq(e.value)) + ") was received but never sent" +
               (it == sent.end() ? "" : " (its send reported failure)"));
      }
  for (const auto& [v, ok] : sent)
    if (ok == 1 && received.count(v) == 0)
      fail("value " + std::to_string(v) + " (sender " + std::to_string(value_actor(v)) + ", seq " +
           std::to_string(value_seq(v)) + ", c" + std::to_string(value_chan(v)) +
           ") was sent but never received");
  // Per-sender FIFO on each channel, per receiver (the runner's drain counts
  // as one receiver that comes after everyone). A sender's sends complete in
  // the order of its log, so that order ranks its values; the sequence number
  // in a value does not (a select_set numbers its send cases up front and
  // completes them in any order).
  std::map<std::uint64_t, std::int64_t> rank;
  for (const auto& log : r.logs) {
    std::map<std::uint32_t, std::int64_t> next;  // chan -> rank of the next send
    for (const event& e : log)
      if (e.kind == event_kind::send && e.result == outcome::ok) rank[e.value] = next[e.chan]++;
  }
  auto rank_of = [&rank](std::uint64_t v) {
    auto it = rank.find(v);
    return it == rank.end() ? std::int64_t{-1} : it->second;
  };
  for (const auto& log : r.logs) {
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> last;  // (sender, chan) -> rank
    for (const event& e : log)
      if (e.kind == event_kind::recv && e.result == outcome::ok) {
        auto key = std::make_pair(value_actor(e.value), value_chan(e.value));
        auto it = last.find(key);
        const std::int64_t k = rank_of(e.value);
        if (it != last.end() && it->second >= k)
          fail("FIFO: sender " + std::to_string(key.first) + "'s send #" + std::to_string(k) +
               " on c" + std::to_string(key.second) + " was received after its send #" +
               std::to_string(it->second));
        last[key] = k;
      }
  }
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> max_received;
  for (std::size_t a = 0; a + 1 < r.logs.size(); ++a)
    for (const event& e : r.logs[a])
      if (e.kind == event_kind::recv && e.result == outcome::ok) {
        auto key = std::make_pair(value_actor(e.value), value_chan(e.value));
        auto it = max_received.find(key);
        const std::int64_t k = rank_of(e.value);
        if (it == max_received.end() || it->second < k) max_received[key] = k;
      }
  for (const event& e : r.logs.back())
    if (e.kind == event_kind::recv && e.result == outcome::ok) {
      auto it = max_received.find(std::make_pair(value_actor(e.value), value_chan(e.value)));
      if (it != max_received.end() && it->second >= rank_of(e.value))
        fail("FIFO: a value left buffered at the end is older than one an actor received (c" +
             std::to_string(e.chan) + ")");
    }
}

/// Runs `p`: goroutines on `rt` (a goro::runtime), threads as std::thread;
/// closes everything after the program's close time; waits at most
/// `hang_limit` after that for the actors (past it the run is reported hung and
/// the actors are abandoned: the caller must not return, and should abort);
/// drains and checks. Runs one program at a time on `rt` (it waits for all
/// of rt's goroutines).
template <class Runtime>
run_result run(const program& p, Runtime& rt,
               std::chrono::milliseconds hang_limit = std::chrono::seconds(20)) {
  auto state = std::make_shared<detail::run_state>();
  run_result result;
  const std::size_t nactors = p.actors.size();
  result.logs.resize(nactors + 1);
  std::vector<std::vector<std::string>> errors(nactors + 1);
  for (std::size_t capacity : p.capacities)
    state->chans.push_back(goro::make_chan<std::uint64_t>(capacity));
  state->running.store(static_cast<std::uint32_t>(nactors));

  std::vector<std::thread> threads;
  for (std::size_t a = 0; a < nactors; ++a) {
    const actor_spec* spec = &p.actors[a];
    std::vector<event>* log = &result.logs[a];
    std::vector<std::string>* errs = &errors[a];
    const auto id = static_cast<std::uint32_t>(a);
    auto body = [state, spec, log, errs, id]() {
      detail::actor_run actor(*state, id, spec->thread, *log, *errs);
      actor.run(spec->ops);
      state->running.fetch_sub(1, std::memory_order_acq_rel);
    };
    if (spec->thread)
      threads.emplace_back(body);
    else
      rt.go(body);
  }

  // The runner: wait for the program's close time (or for every actor), then
  // close every channel, which ends every blocking operation.
  const auto started = std::chrono::steady_clock::now();
  const auto close_at = started + std::chrono::microseconds(p.close_after_us);
  while (state->running.load() != 0 && std::chrono::steady_clock::now() < close_at)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  std::vector<event>& mine = result.logs[nactors];
  for (std::uint32_t c = 0; c < state->chans.size(); ++c) {
    event e;
    e.kind = event_kind::close;
    e.chan = c;
    e.start = state->stamp();
    try {
      state->chans[c].close();
      e.result = outcome::ok;
    } catch (const goro::closed_channel&) {
      e.result = outcome::threw_closed;
    }
    e.end = state->stamp();
    mine.push_back(e);
  }
  const auto closed = std::chrono::steady_clock::now();
  while (state->running.load() != 0) {
    if (std::chrono::steady_clock::now() - closed > hang_limit) {
      result.hung = true;
      result.violations.push_back("actors still blocked " + std::to_string(hang_limit.count()) +
                                  " ms after every channel was closed");
      for (auto& t : threads) t.detach();
      return result;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  rt.wait();
  for (auto& t : threads) t.join();

  // Drain what is still buffered; it must fit the capacity.
  for (std::uint32_t c = 0; c < state->chans.size(); ++c) {
    std::size_t n = 0;
    for (;;) {
      event e;
      e.kind = event_kind::recv;
      e.chan = c;
      e.start = state->stamp();
      goro::recv_result<std::uint64_t> got = state->chans[c].try_recv();
      e.end = state->stamp();
      if (got.status == goro::op_status::ok) {
        e.value = *got.value;
        mine.push_back(e);
        ++n;
        continue;
      }
      if (got.status != goro::op_status::closed)
        result.violations.push_back("draining closed c" + std::to_string(c) +
                                    " did not end with closed");
      break;
    }
    if (n > p.capacities[c])
      result.violations.push_back("c" + std::to_string(c) + " held " + std::to_string(n) +
                                  " values, capacity " + std::to_string(p.capacities[c]));
  }
  for (auto& errs : errors)
    for (auto& e : errs) result.violations.push_back(std::move(e));
  result.operations = state->operations.load();
  check_run(p, result);
  return result;
}

}  // namespace goro_model

#endif
