// Go's own channel tests, rewritten for goro: the programs of Go's test/chan
// directory (prime sieves, power series, doubleselect, fifo, nonblock,
// select3) and cases of runtime/chan_test.go. Each checks the same property
// as its Go original, with C++ written for goro.
//
// Catch2's assertions are not thread-safe: goroutines record what they saw
// (atomics, a `failures` log) and the test thread checks it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using goro::case_default;
using goro::case_recv;
using goro::case_send;
using goro::op_status;

namespace {

using namespace goro_test;

std::vector<int> first_primes(std::size_t n) {
  std::vector<int> primes;
  for (int k = 2; primes.size() < n; ++k) {
    bool prime = true;
    for (int p : primes) {
      if (p * p > k) break;
      if (k % p == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(k);
  }
  return primes;
}

// ---- stopping a web of goroutines that would otherwise run forever ----
//
// Go's test programs leave their generators blocked when main returns. Here
// every blocking operation of such a goroutine also watches a `done`
// channel; closing it makes each one throw `stopped` and end quietly, so the
// runtime can be joined.

struct stopped {};

class stopper {
 public:
  stopper() : done_(goro::make_chan<int>()) {}

  template <class T, class V>
  void send(const goro::chan<T>& c, V&& v) const {
    if (goro::select(case_send(c, std::forward<V>(v)), case_recv(done_)) != 0) throw stopped{};
  }
  template <class T>
  T recv(const goro::chan<T>& c) const {
    std::optional<T> out;
    const std::size_t i = goro::select(
        case_recv(c, [&](std::optional<T> v) { out = std::move(v); }), case_recv(done_));
    if (i != 0 || !out) throw stopped{};
    return std::move(*out);
  }
  /// Starts f() as a goroutine that ends when stopped.
  template <class F>
  void go(F f) const {
    goro::go([f]() mutable {
      try {
        f();
      } catch (const stopped&) {
      }
    });
  }
  const goro::chan<int>& done() const { return done_; }
  void stop() const { done_.close(); }

 private:
  goro::chan<int> done_;
};

}  // namespace

// ===========================================================================
// test/chan/sieve1.go: the concurrent prime sieve.

TEST_CASE("go: sieve1, a chain of filter goroutines yields the first 100 primes", "[go][sieve]") {
  const std::vector<int> want = first_primes(100);
  std::vector<int> got;
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      stopper s;
      auto ch = goro::make_chan<int>();
      s.go([s, ch] {
        for (int i = 2;; ++i) s.send(ch, i);
      });
      for (int k = 0; k < 100; ++k) {
        const int prime = s.recv(ch);
        got.push_back(prime);
        auto next = goro::make_chan<int>();
        s.go([s, in = ch, out = next, prime] {
          for (;;) {
            const int i = s.recv(in);
            if (i % prime != 0) s.send(out, i);
          }
        });
        ch = next;
      }
      s.stop();
    });
  }
  CHECK(got == want);
}

TEST_CASE("go: sieve with close, every filter ends when its input is closed", "[go][sieve]") {
  // The same sieve over a finite range: the generator closes its channel and
  // each filter closes its output when its input is drained, so the close
  // travels down a chain of 100 goroutines.
  const std::vector<int> want = first_primes(100);  // the 100th prime is 541
  std::vector<int> got;
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      auto ch = goro::make_chan<int>();
      goro::go([ch] {
        for (int i = 2; i <= 541; ++i) ch.send(i);
        ch.close();
      });
      // Not a range-for: that would keep reading the first channel.
      while (auto v = ch.recv()) {
        const int prime = *v;
        got.push_back(prime);
        auto next = goro::make_chan<int>();
        goro::go([in = ch, out = next, prime] {
          for (int i : in) {
            if (i % prime != 0) out.send(i);
          }
          out.close();
        });
        ch = next;
      }
    });
  }
  CHECK(got == want);
}

// ===========================================================================
// test/chan/sieve2.go: an Eratosthenes sieve over odd numbers that merges
// the multiples of each prime through a heap, with a select-driven proxy.

namespace {

/// A channel whose next value has been read ahead.
struct peek_chan {
  int head;
  goro::chan<int> ch;
};
struct peek_later {
  bool operator()(const peek_chan& a, const peek_chan& b) const { return a.head > b.head; }
};

/// Odd numbers from 5.
goro::chan<int> odds(const stopper& s) {
  auto out = goro::make_chan<int>(50);
  s.go([s, out] {
    for (int n = 5;; n += 2) s.send(out, n);
  });
  return out;
}

/// Odd multiples of p from p*p.
goro::chan<int> multiples(const stopper& s, int p) {
  auto out = goro::make_chan<int>(10);
  s.go([s, out, p] {
    for (int n = p * p;; n += 2 * p) s.send(out, n);
  });
  return out;
}

/// A channel that forwards to `out`, buffering without bound so that sends
/// to it never wait for `out`'s reader. The output case is switched off
/// (a nil channel) while the buffer is empty.
goro::chan<int> send_proxy(const stopper& s, goro::chan<int> out) {
  auto proxy = goro::make_chan<int>(10);
  s.go([s, proxy, out] {
    std::deque<int> buffer;
    for (;;) {
      goro::chan<int> target = buffer.empty() ? goro::chan<int>() : out;
      const int head = buffer.empty() ? 0 : buffer.front();
      const std::size_t i =
          goro::select(case_recv(proxy, [&](std::optional<int> v) { buffer.push_back(*v); }),
                       case_send(target, head, [&] { buffer.pop_front(); }), case_recv(s.done()));
      if (i == 2) throw stopped{};
    }
  });
  return proxy;
}

goro::chan<int> sieve2(const stopper& s) {
  auto out = goro::make_chan<int>(10);
  out.send(2);
  out.send(3);
  auto composites = goro::make_chan<int>(50);
  auto primes = goro::make_chan<int>(10);
  primes.send(3);

  // Merges the multiples of each prime, in increasing order, into composites.
  s.go([s, primes, composites] {
    std::priority_queue<peek_chan, std::vector<peek_chan>, peek_later> heap;
    int min = 15;
    for (;;) {
      auto m = multiples(s, s.recv(primes));
      const int head = s.recv(m);
      auto advance = [&] {
        peek_chan c = heap.top();
        heap.pop();
        min = c.head;
        c.head = s.recv(c.ch);
        heap.push(c);
      };
      while (min < head) {
        s.send(composites, min);
        advance();
      }
      while (min == head) advance();
      s.send(composites, head);
      heap.push(peek_chan{s.recv(m), m});
    }
  });

  // Sieves the composites out of the odd candidates.
  s.go([s, primes, composites, out] {
    auto feedback = send_proxy(s, primes);
    auto candidates = odds(s);
    int p = s.recv(candidates);
    for (;;) {
      const int c = s.recv(composites);
      while (p < c) {
        s.send(feedback, p);
        s.send(out, p);
        p = s.recv(candidates);
      }
      if (p == c) p = s.recv(candidates);
    }
  });
  return out;
}

}  // namespace

TEST_CASE("go: sieve2, merged multiples and a proxy goroutine yield the primes", "[go][sieve]") {
  const std::vector<int> want = first_primes(200);
  std::vector<int> got;
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      stopper s;
      auto primes = sieve2(s);
      for (std::size_t k = 0; k < want.size(); ++k) got.push_back(*primes.recv());
      s.stop();
    });
  }
  CHECK(got == want);
}

// ===========================================================================
// test/chan/powser1.go: McIlroy's power series, each series a goroutine
// that yields exact rational coefficients on demand (a request channel and
// a data channel).

namespace {

struct rat {
  std::int64_t num = 0;
  std::int64_t den = 1;

  static std::int64_t gcd(std::int64_t a, std::int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b != 0) {
      const std::int64_t t = a % b;
      a = b;
      b = t;
    }
    return a == 0 ? 1 : a;
  }
  static rat make(std::int64_t n, std::int64_t d) {
    if (d < 0) {
      n = -n;
      d = -d;
    }
    const std::int64_t g = gcd(n, d);
    return rat{n / g, d / g};
  }
  friend rat operator+(rat a, rat b) { return make(a.num * b.den + b.num * a.den, a.den * b.den); }
  friend rat operator*(rat a, rat b) {
    const rat x = make(a.num, b.den), y = make(b.num, a.den);  // cross-reduce first
    return make(x.num * y.num, x.den * y.den);
  }
  friend bool operator==(rat a, rat b) { return a.num == b.num && a.den == b.den; }
};

rat R(std::int64_t n, std::int64_t d = 1) { return rat::make(n, d); }

std::string show(const std::vector<rat>& v) {
  std::string s;
  for (const rat& r : v) {
    s += std::to_string(r.num);
    if (r.den != 1) s += "/" + std::to_string(r.den);
    s += " ";
  }
  return s;
}

/// A power series: ask for the next coefficient on req, get it on dat.
struct series {
  goro::chan<int> req = goro::make_chan<int>();
  goro::chan<rat> dat = goro::make_chan<rat>();
};

/// The operations on series; every goroutine they start ends on stop().
class series_lab : public stopper {
 public:
  rat get(const series& u) const {
    send(u.req, 0);
    return recv(u.dat);
  }
  void put(const rat& v, const series& z) const {
    recv(z.req);
    send(z.dat, v);
  }
  /// The next coefficient of u and of v, asked for and awaited concurrently.
  std::pair<rat, rat> get2(const series& u, const series& v) const {
    goro::chan<int> req[2] = {u.req, v.req};
    goro::chan<rat> dat[2] = {goro::chan<rat>(), goro::chan<rat>()};
    rat out[2];
    for (int step = 0; step < 4; ++step) {
      const std::size_t i = goro::select(
          case_send(req[0], 0, [&] { req[0] = goro::chan<int>(), dat[0] = u.dat; }),
          case_send(req[1], 0, [&] { req[1] = goro::chan<int>(), dat[1] = v.dat; }),
          case_recv(dat[0], [&](std::optional<rat> r) { out[0] = *r, dat[0] = goro::chan<rat>(); }),
          case_recv(dat[1], [&](std::optional<rat> r) { out[1] = *r, dat[1] = goro::chan<rat>(); }),
          case_recv(done()));
      if (i == 4) throw stopped{};
    }
    return {out[0], out[1]};
  }
  /// Forwards in to z, on demand, forever.
  void copy(const series& in, const series& z) const {
    for (;;) {
      recv(z.req);
      send(z.dat, get(in));
    }
  }

  series rep(rat c) const {
    series z;
    go([this, c, z] {
      for (;;) put(c, z);
    });
    return z;
  }
  /// 0, 1, 0, 0, ...: the series x.
  series x() const {
    series z;
    go([this, z] {
      put(R(0), z);
      put(R(1), z);
      for (;;) put(R(0), z);
    });
    return z;
  }
  series add(const series& u, const series& v) const {
    series z;
    go([this, u, v, z] {
      for (;;) {
        recv(z.req);
        auto uv = get2(u, v);
        send(z.dat, uv.first + uv.second);
      }
    });
    return z;
  }
  series cmul(rat c, const series& u) const {
    series z;
    go([this, c, u, z] {
      for (;;) {
        recv(z.req);
        send(z.dat, c * get(u));
      }
    });
    return z;
  }
  series sub(const series& u, const series& v) const { return add(u, cmul(R(-1), v)); }
  series diff(const series& u) const {
    series z;
    go([this, u, z] {
      recv(z.req);
      (void)get(u);  // the constant term vanishes
      for (std::int64_t i = 1;; ++i) {
        if (i > 1) recv(z.req);
        send(z.dat, R(i) * get(u));
      }
    });
    return z;
  }
  series integ(rat c, const series& u) const {
    series z;
    go([this, c, u, z] {
      put(c, z);
      for (std::int64_t i = 1;; ++i) {
        recv(z.req);
        send(z.dat, R(1, i) * get(u));
      }
    });
    return z;
  }
  /// u(c0 * x^n).
  series mon_subst(const series& u, rat c0, int n) const {
    series z;
    go([this, u, c0, n, z] {
      rat c = R(1);
      for (;;) {
        recv(z.req);
        send(z.dat, get(u) * c);
        c = c * c0;
        for (int i = 1; i < n; ++i) {
          recv(z.req);
          send(z.dat, R(0));
        }
      }
    });
    return z;
  }
  /// Copies `in` to two outputs that may be read at different rates. One
  /// goroutine, one select: it takes a request from either output, asks
  /// `in` for more only when a waiting output has nothing queued, and
  /// meanwhile keeps serving the other output.
  void split(const series& in, const series& out0, const series& out1) const {
    go([this, in, out0, out1] {
      const series out[2] = {out0, out1};
      std::deque<rat> queued[2];
      bool waiting[2] = {false, false};
      bool asked = false;
      for (;;) {
        goro::chan<int> take_req[2];
        goro::chan<rat> give[2];
        rat front[2];
        for (int i = 0; i < 2; ++i) {
          if (!waiting[i]) take_req[i] = out[i].req;
          if (waiting[i] && !queued[i].empty()) {
            give[i] = out[i].dat;
            front[i] = queued[i].front();
          }
        }
        const bool need = (waiting[0] && queued[0].empty()) || (waiting[1] && queued[1].empty());
        goro::chan<int> ask = !asked && need ? in.req : goro::chan<int>();
        goro::chan<rat> answer = asked ? in.dat : goro::chan<rat>();
        const std::size_t i = goro::select(
            case_recv(take_req[0], [&] { waiting[0] = true; }),
            case_recv(take_req[1], [&] { waiting[1] = true; }),
            case_send(give[0], front[0], [&] { queued[0].pop_front(), waiting[0] = false; }),
            case_send(give[1], front[1], [&] { queued[1].pop_front(), waiting[1] = false; }),
            case_send(ask, 0, [&] { asked = true; }),
            case_recv(answer,
                      [&](std::optional<rat> v) {
                        queued[0].push_back(*v);
                        queued[1].push_back(*v);
                        asked = false;
                      }),
            case_recv(done()));
        if (i == 6) throw stopped{};
      }
    });
  }
  std::pair<series, series> split(const series& in) const {
    series a, b;
    split(in, a, b);
    return {a, b};
  }
  /// u*v = u0*v0 + x*(u0*V + v0*U) + x^2*U*V, where u = u0 + x*U, v = v0 + x*V.
  series mul(const series& u, const series& v) const {
    series z;
    go([this, u, v, z] {
      recv(z.req);
      const auto uv = get2(u, v);
      send(z.dat, uv.first * uv.second);
      const auto uu = split(u);
      const auto vv = split(v);
      const series w = add(cmul(uv.first, vv.first), cmul(uv.second, uu.first));
      recv(z.req);
      send(z.dat, get(w));
      copy(add(w, mul(uu.second, vv.second)), z);
    });
    return z;
  }
  /// exp(u) for u with a zero constant term (the constant term is ignored):
  /// z = exp(u) solves z' = z*u', so z = 1 + integral(z*u'), a feedback loop.
  series exp(const series& u) const {
    series fed_back, result;
    split(integ(R(1), mul(fed_back, diff(u))), fed_back, result);
    return result;
  }

  std::vector<rat> take(const series& u, int n) const {
    std::vector<rat> out;
    for (int i = 0; i < n; ++i) out.push_back(get(u));
    return out;
  }
};

}  // namespace

TEST_CASE("go: powser1, power series as goroutines give exact coefficients", "[go][powser]") {
  constexpr int N = 10;
  failures f;
  series_lab lab;  // outlives every goroutine of the series (they use it)
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      auto expect = [&](const series& u, const std::vector<rat>& want, const char* what) {
        const std::vector<rat> got = lab.take(u, static_cast<int>(want.size()));
        f.expect(got == want, std::string(what) + ": got " + show(got) + "want " + show(want));
      };
      auto each = [](int n, auto fn) {
        std::vector<rat> v;
        for (int i = 0; i < n; ++i) v.push_back(fn(i));
        return v;
      };
      const series ones = lab.rep(R(1));
      const series twos = lab.rep(R(2));
      expect(ones, each(5, [](int) { return R(1); }), "ones");
      expect(lab.add(ones, twos), each(5, [](int) { return R(3); }), "ones+twos");
      expect(lab.diff(ones), each(N, [](int i) { return R(i + 1); }), "d/dx ones");
      expect(lab.integ(R(0), ones), each(N, [](int i) { return i == 0 ? R(0) : R(1, i); }),
             "integral of ones");
      expect(lab.cmul(R(-1), twos), each(N, [](int) { return R(-2); }), "-1 * twos");
      expect(lab.sub(ones, twos), each(5, [](int) { return R(-1); }), "ones-twos");
      expect(lab.mul(ones, ones), each(N, [](int i) { return R(i + 1); }), "ones*ones");
      // exp(x): 1/k!
      std::int64_t fact = 1;
      expect(lab.exp(lab.x()), each(N, [&](int i) { return R(1, i == 0 ? 1 : (fact *= i)); }),
             "exp(x)");
      // exp(x + x^2 + ...) = exp(x/(1-x)), the values of Go's test.
      expect(lab.exp(ones),
             {R(1), R(1), R(3, 2), R(13, 6), R(73, 24), R(167, 40), R(4051, 720), R(37633, 5040),
              R(43817, 4480), R(4596553, 362880)},
             "exp(ones)");
      // arctan(x) = integral of 1/(1+x^2) = x - x^3/3 + x^5/5 - ...
      expect(lab.integ(R(0), lab.mon_subst(ones, R(-1), 2)),
             each(N, [](int i) { return i % 2 == 0 ? R(0) : R(i % 4 == 1 ? 1 : -1, i); }), "atan");
      lab.stop();
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
}

// ===========================================================================
// test/chan/doubleselect.go: a select that sends must complete exactly one
// of its cases, even when several receivers race for them.

TEST_CASE("go: doubleselect, every value sent by a select arrives exactly once", "[go][select]") {
  const int n = 100000 / kScale;
  auto c1 = goro::make_chan<int>(), c2 = goro::make_chan<int>(), c3 = goro::make_chan<int>(),
       c4 = goro::make_chan<int>();
  auto merged = goro::make_chan<int>();
  std::vector<int> seen(static_cast<std::size_t>(n), 0);
  int out_of_range = 0;
  {
    goro::runtime rt(workers(2));
    rt.go([=] {
      for (int i = 0; i < n; ++i) {
        goro::select(case_send(c1, i), case_send(c2, i), case_send(c3, i), case_send(c4, i));
      }
      c1.close();
      c2.close();
      c3.close();
      c4.close();
    });
    auto muxes = std::make_shared<goro::wait_group>();
    muxes->add(4);
    for (const auto& in : {c1, c2, c3, c4}) {
      rt.go([in, merged, muxes] {
        for (int v : in) merged.send(v);
        muxes->done();
      });
    }
    rt.go([merged, muxes] {
      muxes->wait();
      merged.close();
    });
    for (int v : merged) {
      if (v < 0 || v >= n) {
        ++out_of_range;
      } else {
        ++seen[static_cast<std::size_t>(v)];
      }
    }
  }
  CHECK(out_of_range == 0);
  CHECK(std::count(seen.begin(), seen.end(), 1) == n);
}

// ===========================================================================
// test/chan/fifo.go: channels deliver in order.

TEST_CASE("go: fifo, buffered and unbuffered channels deliver in order", "[go][fifo]") {
  constexpr int N = 100;
  SECTION("asynchronous") {
    auto ch = goro::make_chan<int>(N);
    for (int i = 0; i < N; ++i) ch.send(i);
    for (int i = 0; i < N; ++i) REQUIRE(ch.recv() == std::optional<int>(i));
  }
  SECTION("synchronous, read by a daisy chain of goroutines taking turns") {
    auto ch = goro::make_chan<int>();
    std::atomic<int> bad{0};
    {
      goro::runtime rt(workers(2));
      auto in = goro::make_chan<int>();
      const auto start = in;
      for (int i = 0; i < N; ++i) {
        auto out = goro::make_chan<int>();
        rt.go([ch, i, in, out, &bad] {
          (void)in.recv();  // our turn
          bad += ch.recv() != std::optional<int>(i);
          out.send(1);
        });
        in = out;
      }
      start.send(0);
      for (int i = 0; i < N; ++i) ch.send(i);
      (void)in.recv();
    }
    CHECK(bad.load() == 0);
  }
  SECTION("several senders: each one's values stay in its order") {
    for (std::size_t cap : {0u, 1u, 7u}) {
      constexpr int kSenders = 6;
      const int kEach = 2000 / kScale;
      auto ch = goro::make_chan<std::pair<int, int>>(cap);
      goro::runtime rt(workers(2));
      std::vector<std::thread> threads;
      for (int s = 0; s < kSenders; ++s) {
        auto body = [ch, s, kEach] {
          for (int k = 0; k < kEach; ++k) ch.send({s, k});
        };
        if (s % 3 == 2) {
          threads.emplace_back(body);
        } else {
          rt.go(body);
        }
      }
      std::vector<int> next(kSenders, 0);
      int disorder = 0;
      for (int k = 0; k < kSenders * kEach; ++k) {
        const auto v = *ch.recv();
        disorder += v.second != next[static_cast<std::size_t>(v.first)]++;
      }
      for (auto& t : threads) t.join();
      CHECK(disorder == 0);
    }
  }
}

// ===========================================================================
// test/chan/nonblock.go: non-blocking sends and receives of several types
// against a goroutine on the other side, on unbuffered and buffered channels.

namespace {

template <class T>
void nonblock_round(std::size_t buffer, T to_receiver, T from_sender, failures& f) {
  const std::string what = "buffer " + std::to_string(buffer) + ": ";
  auto c = goro::make_chan<T>(buffer);
  auto sync = goro::make_chan<bool>();

  f.expect(c.try_recv().status == op_status::empty, what + "try_recv on an empty channel");

  // A receiver goroutine: a try_send succeeds once it waits (at once when buffered).
  goro::go([c, sync, to_receiver, &f, what] {
    f.expect(c.recv() == std::optional<T>(to_receiver), what + "receiver got the wrong value");
    sync.send(true);
  });
  if (buffer > 0) {
    f.expect(c.try_send(to_receiver) == op_status::ok, what + "try_send with room");
  } else {
    f.expect(eventually([&] { return c.try_send(to_receiver) == op_status::ok; }),
             what + "try_send never met the receiver");
  }
  (void)sync.recv();

  // A sender goroutine: a try_recv succeeds once it waits (or has sent into the buffer).
  goro::go([c, sync, from_sender] {
    c.send(from_sender);
    sync.send(true);
  });
  std::optional<T> got;
  auto attempt = [&] {
    auto r = c.try_recv();
    if (r) got = std::move(r.value);
    return r.status == op_status::ok;
  };
  if (buffer > 0) {
    (void)sync.recv();  // sent into the buffer
    f.expect(attempt(), what + "try_recv of a buffered value");
  } else {
    f.expect(eventually(attempt), what + "try_recv never met the sender");
    (void)sync.recv();
  }
  f.expect(got == std::optional<T>(from_sender), what + "try_recv got the wrong value");
}

}  // namespace

TEST_CASE("go: nonblock, try_send and try_recv against goroutines", "[go][nonblock]") {
  failures f;
  {
    goro::runtime rt(workers(2));
    rt.go([&] {
      for (std::size_t buffer : {0u, 1u}) {
        nonblock_round<std::int32_t>(buffer, 123, 234, f);
        nonblock_round<std::int64_t>(buffer, 123456, 234567, f);
        nonblock_round<bool>(buffer, true, true, f);
        nonblock_round<std::string>(buffer, "hello", "hello again", f);
      }
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
}

// ===========================================================================
// test/chan/select3.go: which operations block and which do not.
//
// "Blocks" is checked two ways: an operation that someone can release runs
// in a goroutine that must still be stuck after a while, then is released
// and must finish; one that nobody can ever release (a nil channel) is
// given a timer case or a deadline, which must be what ends it.

namespace {

/// Runs op() in a goroutine of rt. Returns whether it had not finished
/// after `wait`; then calls release() and waits until op() has finished.
template <class Op, class Release>
bool blocks(Op op, Release release, std::chrono::milliseconds wait = 50ms) {
  auto finished = goro::make_chan<int>(1);
  goro::go([op, finished]() mutable {
    op();
    finished.send(1);
  });
  const bool stuck = finished.recv_for(wait).status == op_status::timeout;
  release();
  (void)finished.recv();
  return stuck;
}

/// Runs op() in a goroutine and says whether it finished (within a limit so
/// generous that only a real block fails it).
template <class Op>
bool never_blocks(Op op) {
  auto finished = goro::make_chan<int>(1);
  goro::go([op, finished]() mutable {
    op();
    finished.send(1);
  });
  return finished.recv_for(60s).status == op_status::ok;
}

/// Calls op() and says whether it threw closed_channel.
template <class Op>
bool throws_closed(Op op) {
  try {
    op();
  } catch (const goro::closed_channel&) {
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("go: select3, what blocks and what does not", "[go][select]") {
  failures f;
  {
    goro::runtime rt(workers(2));
    rt.go([&f] {
      goro::chan<int> nil;
      auto closed = goro::make_chan<int>();
      closed.close();
      const auto timer_wins = [](auto&&... cases) {
        return goro::select(cases..., case_recv(goro::after(30ms))) == sizeof...(cases);
      };

      // A nil channel blocks for ever: only a deadline or a timer ends the wait.
      f.expect(nil.send_for(7, 30ms) == op_status::timeout, "send on nil");
      f.expect(nil.recv_for(30ms).status == op_status::timeout, "receive on nil");
      // ...and inside a select it is never chosen.
      f.expect(goro::select(case_send(nil, 7), case_default()) == 1, "nil send case chosen");
      f.expect(goro::select(case_recv(nil), case_default()) == 1, "nil recv case chosen");
      f.expect(timer_wins(case_recv(nil)), "select on a nil receive");
      f.expect(timer_wins(case_send(nil, 7)), "select on a nil send");
      f.expect(timer_wins(case_recv(nil), case_send(nil, 7)), "select on nil send and receive");

      // A send with room in the buffer does not block.
      f.expect(never_blocks([] { goro::make_chan<int>(1).send(7); }), "send with room blocked");

      // A receive from a closed channel does not block, and yields nothing.
      f.expect(never_blocks([closed, &f] {
                 for (int i = 0; i < 10; ++i) {
                   f.expect(closed.recv() == std::nullopt, "value from a closed channel");
                   f.expect(closed.try_recv().status == op_status::closed, "try_recv closed");
                 }
               }),
               "receive from a closed channel blocked");

      // A send on a closed channel throws (Go panics).
      f.expect(throws_closed([&] { closed.send(7); }), "send on a closed channel");

      // A receive with nothing to receive blocks, until a sender comes.
      {
        auto ch = goro::make_chan<int>();
        f.expect(blocks([ch] { (void)ch.recv(); }, [ch] { ch.send(1); }), "receive did not block");
      }

      // A select over channels that are not ready blocks.
      {
        auto ch = goro::make_chan<int>();
        f.expect(blocks([ch] { goro::select(case_recv(ch)); }, [ch] { ch.send(1); }),
                 "select on a receive did not block");
      }

      // A default case means no blocking.
      f.expect(never_blocks([] { goro::select(case_default()); }), "select{default}");
      f.expect(never_blocks([nil] { goro::select(case_recv(nil), case_default()); }),
               "nil+default");
      f.expect(never_blocks([nil] { goro::select(case_send(nil, 7), case_default()); }),
               "nil+default");

      // Ready channels: no blocking, and the default is not taken.
      {
        auto ch = goro::make_chan<int>(1);
        f.expect(goro::select(case_send(ch, 7), case_default()) == 0, "ready send not chosen");
        f.expect(goro::select(case_recv(ch), case_default()) == 0, "ready receive not chosen");
      }

      // A closed channel in a select acts as outside one.
      f.expect(never_blocks([closed] { goro::select(case_recv(closed)); }), "select on closed");
      f.expect(throws_closed([&] { goro::select(case_send(closed, 7)); }), "select send on closed");

      // A select that sends and receives on one channel does not meet itself.
      {
        auto ch = goro::make_chan<int>();
        f.expect(blocks([ch] { goro::select(case_send(ch, 1), case_recv(ch)); },
                        [ch] { (void)ch.recv(); }),
                 "a self-select did not block");
        f.expect(
            blocks([ch] { goro::select(case_recv(ch), case_send(ch, 1)); }, [ch] { ch.send(2); }),
            "a self-select did not block (2)");
      }
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
}

// ===========================================================================
// runtime/chan_test.go

TEST_CASE("go runtime: TestChan, over capacities 0 to N", "[go][runtime]") {
  const int N = 20;
  failures f;
  goro::runtime rt(workers(4));
  for (int cap = 0; cap < N; ++cap) {
    const std::string at = "cap " + std::to_string(cap) + ": ";
    const auto ucap = static_cast<std::size_t>(cap);
    {
      // A receive from an empty channel blocks; a non-blocking one returns.
      auto c = goro::make_chan<int>(ucap);
      std::atomic<bool> recv1{false}, recv2{false};
      rt.go([c, &recv1] {
        (void)c.recv();
        recv1 = true;
      });
      rt.go([c, &recv2] {
        (void)c.recv_for(1h);
        recv2 = true;
      });
      std::this_thread::sleep_for(1ms);
      f.expect(!recv1 && !recv2, at + "receive from an empty channel returned");
      f.expect(goro::select(case_recv(c), case_default()) == 1, at + "select receive from empty");
      f.expect(c.try_recv().status == op_status::empty, at + "try_recv from empty");
      c.send(0);
      c.send(0);
      f.expect(eventually([&] { return recv1 && recv2; }), at + "receivers never woke");
    }
    {
      // A send to a full channel blocks; a non-blocking one returns.
      auto c = goro::make_chan<int>(ucap);
      for (int i = 0; i < cap; ++i) c.send(i);
      std::atomic<bool> sent{false};
      rt.go([c, &sent] {
        c.send(0);
        sent = true;
      });
      std::this_thread::sleep_for(1ms);
      f.expect(!sent, at + "send to a full channel returned");
      f.expect(goro::select(case_send(c, 0), case_default()) == 1, at + "select send to full");
      (void)c.recv();
      f.expect(eventually([&] { return sent.load(); }), at + "the sender never woke");
    }
    {
      // A closed channel yields what was buffered, then nothing.
      auto c = goro::make_chan<int>(ucap);
      for (int i = 0; i < cap; ++i) c.send(i);
      c.close();
      for (int i = 0; i < cap; ++i) f.expect(c.recv() == std::optional<int>(i), at + "drain order");
      f.expect(c.recv() == std::nullopt, at + "value after drain");
      f.expect(c.recv() == std::nullopt, at + "value after drain (2)");
    }
    {
      // close wakes a blocked receiver with "closed".
      auto c = goro::make_chan<int>(ucap);
      auto done = goro::make_chan<bool>();
      rt.go([c, done] { done.send(c.recv() == std::nullopt); });
      std::this_thread::sleep_for(1ms);
      c.close();
      f.expect(*done.recv(), at + "a receiver woken by close got a value");
    }
    {
      // 100 values in FIFO order, twice; then 4 senders and 4 receivers of
      // 1000 values each, every value arriving exactly as often as sent.
      auto c = goro::make_chan<int>(ucap);
      for (int round = 0; round < 2; ++round) {
        rt.go([c] {
          for (int i = 0; i < 100; ++i) c.send(i);
        });
        for (int i = 0; i < 100; ++i) f.expect(c.recv() == std::optional<int>(i), at + "FIFO");
      }
      constexpr int P = 4, L = 1000;
      for (int p = 0; p < P; ++p) {
        rt.go([c] {
          for (int i = 0; i < L; ++i) c.send(i);
        });
      }
      auto results = goro::make_chan<absl::flat_hash_map<int, int>>();
      for (int p = 0; p < P; ++p) {
        rt.go([c, results] {
          absl::flat_hash_map<int, int> got;
          for (int i = 0; i < L; ++i) ++got[*c.recv()];
          results.send(std::move(got));
        });
      }
      absl::flat_hash_map<int, int> total;
      for (int p = 0; p < P; ++p) {
        const auto got = results.recv();
        for (const auto& kv : *got) total[kv.first] += kv.second;
      }
      f.expect(total.size() == static_cast<std::size_t>(L), at + "missing values");
      for (const auto& kv : total) {
        if (kv.second != P)
          f.add(at + "value " + std::to_string(kv.first) + " count " + std::to_string(kv.second));
      }
    }
    {
      // len and cap.
      auto c = goro::make_chan<int>(ucap);
      f.expect(c.size() == 0 && c.capacity() == ucap, at + "len/cap of a new channel");
      for (int i = 0; i < cap; ++i) c.send(i);
      f.expect(c.size() == ucap && c.capacity() == ucap, at + "len/cap of a full channel");
    }
  }
  rt.wait();
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("go runtime: TestNonblockRecvRace", "[go][runtime]") {
  // A non-blocking receive racing with close on a channel holding a value
  // must see either the value or the close: never "not ready".
  const int n = 10000 / kScale;
  std::atomic<int> not_ready{0};
  goro::runtime rt(workers(2));
  for (int i = 0; i < n; ++i) {
    auto c = goro::make_chan<int>(1);
    c.send(1);
    rt.go([c, &not_ready] {
      if (goro::select(case_recv(c), case_default()) == 1) ++not_ready;
    });
    c.close();
    (void)c.recv();
  }
  rt.wait();
  CHECK(not_ready.load() == 0);
}

TEST_CASE("go runtime: TestNonblockSelectRace and Race2", "[go][runtime]") {
  // A select acts on the channels' state at one moment: from the moment the
  // goroutine starts, one of c1 and c2 is always ready, so the default case
  // must never be taken.
  const int n = 20000 / kScale;
  const bool close_c2 = GENERATE(false, true);
  auto done = goro::make_chan<bool>(1);
  int defaults = 0;
  goro::runtime rt(workers(2));
  for (int i = 0; i < n; ++i) {
    auto c1 = goro::make_chan<int>(1);
    auto c2 = goro::make_chan<int>(close_c2 ? 0 : 1);
    c1.send(1);
    rt.go([c1, c2, done] {
      done.send(goro::select(case_recv(c1), case_recv(c2), case_default()) != 2);
    });
    if (close_c2) {
      c2.close();
    } else {
      c2.send(1);
    }
    goro::select(case_recv(c1), case_default());
    defaults += !*done.recv();
  }
  CHECK(defaults == 0);
}

TEST_CASE("go runtime: TestSelfSelect", "[go][runtime]") {
  // Two goroutines each select to send or receive on one channel: no crash,
  // no deadlock, and on an unbuffered channel nobody receives its own value.
  for (std::size_t cap : {0u, 10u}) {
    auto c = goro::make_chan<int>(cap);
    std::atomic<int> self_receives{0};
    {
      goro::runtime rt(workers(2));
      for (int p = 0; p < 2; ++p) {
        rt.go([c, p, cap, &self_receives] {
          auto check = [&](std::optional<int> v) {
            if (cap == 0 && v == std::optional<int>(p)) ++self_receives;
          };
          for (int i = 0; i < 1000; ++i) {
            if (p == 0 || i % 2 == 0) {
              goro::select(case_send(c, p), case_recv(c, check));
            } else {
              goro::select(case_recv(c, check), case_send(c, p));
            }
          }
        });
      }
    }
    CHECK(self_receives.load() == 0);
  }
}

TEST_CASE("go runtime: TestSelectStress", "[go][runtime]") {
  // Plain senders and receivers on four channels, plus one goroutine that
  // sends on all four in one select and one that receives from all four,
  // switching each case off (nil) after N values. Must not deadlock.
  const int N = 10000 / kScale;
  std::array<goro::chan<int>, 4> c = {goro::make_chan<int>(), goro::make_chan<int>(),
                                      goro::make_chan<int>(2), goro::make_chan<int>(3)};
  std::atomic<int> finished{0};
  {
    goro::runtime rt(workers(4));
    for (std::size_t k = 0; k < 4; ++k) {
      rt.go([ch = c[k], &finished, N] {
        for (int i = 0; i < N; ++i) ch.send(0);
        ++finished;
      });
      rt.go([ch = c[k], &finished, N] {
        for (int i = 0; i < N; ++i) (void)ch.recv();
        ++finished;
      });
    }
    rt.go([c, &finished, N] {
      auto c1 = c;
      std::array<int, 4> n{};
      auto sent = [&](std::size_t k) {
        return [&, k] {
          if (++n[k] == N) c1[k] = goro::chan<int>();
        };
      };
      for (int i = 0; i < 4 * N; ++i) {
        goro::select(case_send(c1[3], 0, sent(3)), case_send(c1[2], 0, sent(2)),
                     case_send(c1[0], 0, sent(0)), case_send(c1[1], 0, sent(1)));
      }
      ++finished;
    });
    rt.go([c, &finished, N] {
      auto c1 = c;
      std::array<int, 4> n{};
      auto got = [&](std::size_t k) {
        return [&, k](std::optional<int>) {
          if (++n[k] == N) c1[k] = goro::chan<int>();
        };
      };
      for (int i = 0; i < 4 * N; ++i) {
        goro::select(case_recv(c1[0], got(0)), case_recv(c1[1], got(1)), case_recv(c1[2], got(2)),
                     case_recv(c1[3], got(3)));
      }
      ++finished;
    });
  }
  CHECK(finished.load() == 10);
}

TEST_CASE("go runtime: TestSelectFairness", "[go][runtime]") {
  // Two always-ready buffered channels and two never-ready unbuffered ones:
  // the two ready ones must each win about half the time.
  constexpr int trials = 10000;
  auto c1 = goro::make_chan<char>(trials + 1), c2 = goro::make_chan<char>(trials + 1);
  for (int i = 0; i < trials + 1; ++i) {
    c1.send(1);
    c2.send(2);
  }
  auto c3 = goro::make_chan<char>(), c4 = goro::make_chan<char>();
  auto out = goro::make_chan<char>();
  auto done = goro::make_chan<char>();
  int cnt1 = 0, cnt2 = 0, other = 0;
  {
    goro::runtime rt(workers(2));
    rt.go([=] {
      for (;;) {
        char b = 0;
        auto take = [&b](std::optional<char> v) { b = *v; };
        goro::select(case_recv(c3, take), case_recv(c4, take), case_recv(c1, take),
                     case_recv(c2, take));
        if (goro::select(case_send(out, b), case_recv(done)) == 1) return;
      }
    });
    for (int i = 0; i < trials; ++i) {
      switch (*out.recv()) {
        case 1:
          ++cnt1;
          break;
        case 2:
          ++cnt2;
          break;
        default:
          ++other;
      }
    }
    done.close();
  }
  CHECK(other == 0);
  // 10 standard deviations (50 each) from 5000 on either side.
  INFO(cnt1 << " vs " << cnt2);
  CHECK(cnt1 > 4500);
  CHECK(cnt1 < 5500);
  CHECK(cnt1 + cnt2 == trials);
}

TEST_CASE("go runtime: TestChanSendInterface, with move-only values", "[go][runtime]") {
  auto c = goro::make_chan<std::unique_ptr<int>>(1);
  c.send(std::make_unique<int>(1));
  CHECK(goro::select(case_send(c, std::make_unique<int>(2)), case_default()) == 1);
  CHECK(goro::select(case_send(c, std::make_unique<int>(3)), case_send(c, std::make_unique<int>(4)),
                     case_default()) == 2);
  auto v = c.recv();
  REQUIRE(v.has_value());
  CHECK(**v == 1);
  CHECK(c.size() == 0);
}

TEST_CASE("go runtime: TestPseudoRandomSend", "[go][runtime]") {
  // A select with two ready send cases picks each about half the time.
  constexpr int n = 100;
  for (std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
    auto c = goro::make_chan<int>(cap);
    std::vector<int> l(n, -1);
    {
      goro::runtime rt(workers(2));
      rt.go([c, &l] {
        for (int i = 0; i < n; ++i) {
          goro::yield();
          l[static_cast<std::size_t>(i)] = *c.recv();
        }
      });
      for (int i = 0; i < n; ++i) goro::select(case_send(c, 1), case_send(c, 0));
    }
    const auto ones = std::count(l.begin(), l.end(), 1);
    const auto zeros = std::count(l.begin(), l.end(), 0);
    INFO("cap " << cap << ": " << zeros << " zeros, " << ones << " ones");
    CHECK(ones + zeros == n);
    CHECK(zeros > n / 10);
    CHECK(ones > n / 10);
  }
}

TEST_CASE("go runtime: TestMultiConsumer", "[go][runtime]") {
  constexpr int nwork = 23;
  const int niter = 271828 / kScale;
  const std::array<int, 10> pn = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  auto q = goro::make_chan<int>(nwork * 3);
  auto r = goro::make_chan<int>(nwork * 3);
  std::int64_t expect = 0;
  std::int64_t n = 0, s = 0;
  {
    goro::runtime rt(workers(2));
    auto wg = std::make_shared<goro::wait_group>();
    for (int w = 0; w < nwork; ++w) {
      wg->add(1);
      rt.go([=] {
        for (int v : q) {
          if (pn[static_cast<std::size_t>(w) % pn.size()] == v) goro::yield();  // upset the order
          r.send(v);
        }
        wg->done();
      });
    }
    rt.go([=, &expect] {
      for (int i = 0; i < niter; ++i) {
        const int v = pn[static_cast<std::size_t>(i) % pn.size()];
        expect += v;
        q.send(v);
      }
      q.close();
      wg->wait();
      r.close();
    });
    for (int v : r) {
      ++n;
      s += v;
    }
  }
  CHECK(n == niter);
  CHECK(s == expect);
}

TEST_CASE("go runtime: TestSelectDuplicateChannel", "[go][runtime]") {
  // A select waiting twice on c and once on d is woken through d; it must
  // take itself off c properly, so that a later send on c reaches the plain
  // receiver queued behind it.
  auto c = goro::make_chan<int>(), d = goro::make_chan<int>(), e = goro::make_chan<int>();
  std::atomic<int> b_got{-1};
  std::atomic<int> a_case{-1};
  {
    goro::runtime rt(workers(2));
    rt.go([=, &a_case] {
      a_case = static_cast<int>(goro::select(case_recv(c), case_recv(c), case_recv(d)));
      e.send(9);
    });
    goro::sleep_for(1ms);  // A queues on c first (the test passes either way)
    rt.go([c, &b_got] { b_got = c.recv().value_or(-2); });
    goro::sleep_for(1ms);
    d.send(7);
    CHECK(e.recv() == std::optional<int>(9));
    c.send(8);
  }
  CHECK(a_case.load() == 2);
  CHECK(b_got.load() == 8);
}
