// google_search: Go's "Google Search" from the talk "Go Concurrency
// Patterns", with a context carrying the deadline.
//
// Three fake backends (web, image, video) each take a while to answer.
//
//   2.0  ask all three at once and gather the answers (fan-in):
//          c := make(chan Result)
//          go func() { c <- Web(query) } ()  ...
//   2.1  the same, but give up at a deadline; a late backend is left out:
//          ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
//          select { case r := <-c: ... case <-ctx.Done(): ... }
//   3.0  each backend has three replicas; ask them all and keep the first
//        answer (Go's First), cancelling the slower replicas at once:
//          func First(ctx, query, replicas ...Search) Result
//
// Every backend here sleeps with the context (goro::sleep_for(ctx, d)), so a
// cancelled request stops its work at once and no goroutine outlives its
// search: the program checks that at the end.
//
// The output is the same on every run: the latencies are fixed, and every
// answer that must arrive is due at least 200 ms before its deadline, every
// answer that must not is due many seconds after it.
#include "goro.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

namespace {

/// type Search func(ctx context.Context, query string) Result
using search = std::function<std::string(const goro::context&, const std::string&)>;

struct result {
  std::string kind;
  std::string text;
};

/// A fake backend: answers after `latency`, unless the context ends first
/// (then sleep_for throws goro::context_error, and there is no answer).
search fake_search(const std::string& kind, int replica, ms latency) {
  return [kind, replica, latency](const goro::context& ctx, const std::string& query) {
    goro::sleep_for(ctx, latency);
    std::string answer = kind + " result for \"" + query + "\"";
    if (replica > 0) answer += " (replica " + std::to_string(replica) + ")";
    return answer;
  };
}

/// Asks every backend in its own goroutine, and gathers what arrives before
/// ctx is done. The channel has room for every answer, so a backend never
/// blocks on a reader that has already gone.
std::map<std::string, std::string> gather(
    const goro::context& ctx, const std::string& query,
    const std::vector<std::pair<std::string, search>>& backends) {
  auto c = goro::make_chan<result>(backends.size());
  for (const auto& [kind, backend] : backends) {
    goro::go([ctx, c, kind = kind, backend = backend, query] {
      try {
        c.send(result{kind, backend(ctx, query)});
      } catch (const goro::context_error&) {
        // The search is over; nobody wants this answer.
      }
    });
  }
  std::map<std::string, std::string> got;
  try {
    for (std::size_t i = 0; i < backends.size(); ++i) {
      std::optional<result> r = c.recv(ctx);  // throws once ctx is done
      got[r->kind] = r->text;
    }
  } catch (const goro::context_error&) {
    // The deadline: report what we have.
  }
  return got;
}

/// Go's First: the first answer among the replicas; the others are cancelled
/// as soon as it is in.
search first(std::vector<search> replicas) {
  return [replicas](const goro::context& parent, const std::string& query) {
    auto [ctx, cancel] = goro::with_cancel(parent);
    auto c = goro::make_chan<std::string>(replicas.size());
    for (const search& replica : replicas) {
      goro::go([ctx = ctx, c, replica, query] {
        try {
          c.send(replica(ctx, query));
        } catch (const goro::context_error&) {
        }
      });
    }
    std::string answer = *c.recv(ctx);  // throws if the parent's deadline comes first
    cancel();                           // the slower replicas stop now
    return answer;
  };
}

void print(const char* title, const std::map<std::string, std::string>& got) {
  std::printf("%s\n", title);
  for (const char* kind : {"web", "image", "video"}) {
    auto it = got.find(kind);
    std::printf("  %-5s  %s\n", kind, it == got.end() ? "(timed out)" : it->second.c_str());
  }
}

}  // namespace

int main() {
  const std::string query = "goro";

  // 2.0: everybody answers; the slowest backend sets the pace.
  print("Google Search 2.0: all backends at once",
        gather(goro::background(), query,
               {{"web", fake_search("web", 0, 10ms)},
                {"image", fake_search("image", 0, 20ms)},
                {"video", fake_search("video", 0, 40ms)}}));

  // 2.1: video is slow today; the request has a deadline.
  {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 300ms);
    print("Google Search 2.1: with a 300 ms deadline",
          gather(ctx, query,
                 {{"web", fake_search("web", 0, 10ms)},
                  {"image", fake_search("image", 0, 20ms)},
                  {"video", fake_search("video", 0, ms(30000))}}));
    cancel();
  }

  // 3.0: replicas; the fast one of each backend answers, the slow ones are
  // cancelled by First as soon as it has.
  {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 300ms);
    print(
        "Google Search 3.0: three replicas each, first answer wins, 300 ms deadline",
        gather(
            ctx, query,
            {{"web", first({fake_search("web", 1, ms(20000)), fake_search("web", 2, 15ms),
                            fake_search("web", 3, ms(30000))})},
             {"image", first({fake_search("image", 1, ms(30000)),
                              fake_search("image", 2, ms(20000)), fake_search("image", 3, 25ms)})},
             {"video", first({fake_search("video", 1, 40ms), fake_search("video", 2, ms(20000)),
                              fake_search("video", 3, ms(30000))})}}));
    cancel();
  }

  // Every backend goroutine has been cancelled or has answered: none is left
  // sleeping (each one ends within moments of its cancellation).
  const auto limit = goro::clock::now() + 10s;
  while (goro::num_goroutines() != 0 && goro::clock::now() < limit) goro::sleep_for(1ms);
  std::printf("goroutines left running: %zu\n", goro::num_goroutines());
  return goro::num_goroutines() == 0 ? 0 : 1;
}
