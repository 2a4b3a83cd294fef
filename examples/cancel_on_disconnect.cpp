// cancel_on_disconnect: a server whose slow work for a request stops as soon
// as the client that asked for it goes away.
//
// The Go idiom it mirrors is net/http's r.Context(): the server keeps a
// read pending on each connection while its handler runs, and when that read
// sees EOF (the client closed the connection) it cancels the request's
// context, so everything the handler waits on with that context stops:
//
//   func handler(w http.ResponseWriter, r *http.Request) {
//       ctx := r.Context()               // cancelled when the client goes away
//       for i := 0; i < steps; i++ {
//           select {
//           case <-time.After(20 * time.Millisecond):   // one step of work
//           case <-ctx.Done():
//               log.Printf("cancelled after %d steps: %v", i, ctx.Err())
//               return
//           }
//       }
//       fmt.Fprintf(w, "done %d steps\n", steps)
//   }
//
// goro::net has no HTTP server to do it for us, so each connection's
// goroutine does what net/http does inside (its connReader's background
// read): after reading the request line it derives
// `auto [ctx, cancel] = goro::with_cancel(base)`, starts a watcher goroutine
// that reads from the connection and calls cancel() when the read returns
// 0 (EOF) or fails, and does the work with ctx. When the work ends first,
// the handler calls cancel() itself, which ends the watcher's read(ctx, ...):
// either way, nobody is left waiting.
//
// The protocol is one line each way: the client sends "work N", the server
// takes N steps of 20 ms and answers "done N steps", then closes.
//
// Usage:
//   cancel_on_disconnect PORT|ADDR    serve on 127.0.0.1:PORT (or ADDR) until killed;
//                                     try `echo "work 100" | nc -q0 127.0.0.1 PORT`
//                                     (nc closes at once: the work is cancelled)
//   cancel_on_disconnect --self-test  the server on 127.0.0.1:0 and two clients in this
//                                     process: one waits for its answer, one hangs up
//                                     early; prints what the ctest checks
#include "goro.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

constexpr auto step_time = 20ms;
constexpr int max_steps = 100000;

/// What a handler reports when its request is over (for the self-test).
struct report {
  int steps = 0;  ///< asked for
  int done = 0;   ///< steps finished
  bool client_gone = false;
  std::error_code err;  ///< ctx.err() when the work stopped; empty if it finished
};

/// Reads the request line (without its '\n'), or nothing if the client closed
/// first or sent a line too long. One request per connection: bytes after
/// the newline are not expected and dropped.
std::optional<std::string> read_line(const goro::net::conn& c) {
  std::string line;
  char buf[64];
  while (line.size() < 128) {
    const std::size_t n = c.read(buf, sizeof buf);
    if (n == 0) return std::nullopt;
    line.append(buf, n);
    const std::size_t nl = line.find('\n');
    if (nl != std::string::npos) {
      line.resize(nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
  }
  return std::nullopt;
}

/// "work N" with 1 <= N <= max_steps, else 0.
int parse_request(const std::string& line) {
  if (line.compare(0, 5, "work ") != 0) return 0;
  const long n = std::strtol(line.c_str() + 5, nullptr, 10);
  return n >= 1 && n <= max_steps ? static_cast<int>(n) : 0;
}

// The connection's background read (net/http's connReader.backgroundRead):
// EOF or a read error means the client has gone, so the request's context
// is cancelled. It reads with ctx, so that the handler's own cancel() (the
// work is over) ends it too. Bytes the client sends meanwhile are ignored.
void watch_for_disconnect(const goro::context& ctx, const goro::cancel_func& cancel,
                          const goro::net::conn& c, std::atomic<bool>& client_gone) {
  char buf[64];
  try {
    while (c.read(ctx, buf, sizeof buf) != 0) {
    }
  } catch (const goro::context_error&) {
    return;  // the handler is done with the request: nothing to watch
  } catch (const goro::net::error&) {
    // Reset by the peer and the like: gone as surely as with EOF.
  }
  client_gone = true;
  cancel();
}

// The slow work: `steps` steps of 20 ms, each waiting with ctx, so that a
// cancelled request stops within a step. Counts the steps finished in done;
// throws goro::context_error when ctx ends first.
void slow_work(const goro::context& ctx, int steps, int& done) {
  for (done = 0; done < steps; ++done) goro::sleep_for(ctx, step_time);
}

// One connection: read the request, do the work under a context that the
// client's going away cancels, answer if the work finished.
void handle(goro::net::conn c, const goro::context& base, goro::chan<report> reports) {
  report r;
  try {
    const std::optional<std::string> line = read_line(c);
    r.steps = line ? parse_request(*line) : 0;
    if (r.steps == 0) {
      const std::string error = "error: expected \"work N\"\n";
      if (line) c.write_all(error.data(), error.size());
      c.close();
      return;
    }

    auto [ctx, cancel] = goro::with_cancel(base);
    std::atomic<bool> client_gone{false};
    goro::wait_group watcher;
    watcher.add(1);
    // By reference to this frame: the handler waits for the watcher below.
    goro::go([&watcher, &client_gone, c, ctx = ctx, cancel = cancel] {
      watch_for_disconnect(ctx, cancel, c, client_gone);
      watcher.done();
    });

    try {
      slow_work(ctx, r.steps, r.done);
    } catch (const goro::context_error& e) {
      r.err = e.code();  // ctx.err(): canceled
    }
    cancel();        // the work is over either way: stop the watcher, free ctx
    watcher.wait();  // nothing refers to this frame after this
    r.client_gone = client_gone.load();

    if (r.err) {
      std::printf("server: work %d cancelled after %d steps (client gone: %s), err() = %s\n",
                  r.steps, r.done, r.client_gone ? "yes" : "no", r.err.message().c_str());
    } else {
      std::printf("server: work %d finished all %d steps, answering\n", r.steps, r.done);
      std::fflush(stdout);
      const std::string answer = "done " + std::to_string(r.done) + " steps\n";
      c.write_all(answer.data(), answer.size());
    }
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "server: %s: %s\n", c.remote_addr().c_str(), e.what());
  }
  std::fflush(stdout);
  c.close();
  reports.send(r);
}

// The accept loop, one goroutine per connection; returns when the listener
// is closed. `handlers` counts the connection goroutines still running.
void serve(goro::net::listener ln, const goro::context& base, goro::chan<report> reports,
           std::shared_ptr<goro::wait_group> handlers) {
  for (;;) {
    goro::net::conn c;
    try {
      c = ln.accept();
    } catch (const goro::net::closed_error&) {
      return;
    } catch (const goro::net::error& e) {
      std::fprintf(stderr, "accept: %s\n", e.what());
      goro::sleep_for(10ms);
      continue;
    }
    handlers->add(1);
    goro::go([c, base, reports, handlers] {
      handle(c, base, reports);
      handlers->done();
    });
  }
}

std::string read_all(const goro::net::conn& c) {
  std::string s;
  char buf[64];
  while (const std::size_t n = c.read(buf, sizeof buf)) s.append(buf, n);
  return s;
}

int run_self_test() {
  goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
  const std::string addr = ln.addr();
  auto reports = goro::make_chan<report>(16);
  auto handlers = std::make_shared<goro::wait_group>();
  goro::wait_group server_done;
  server_done.add(1);
  goro::go([&] {
    serve(ln, goro::background(), reports, handlers);
    server_done.done();
  });
  bool ok = true;

  // Client 1 waits for its answer: 5 steps, about 100 ms.
  {
    goro::net::conn c = goro::net::dial("tcp", addr, 10s);
    const std::string request = "work 5\n";
    c.write_all(request.data(), request.size());
    std::string answer = read_all(c);  // the server answers, then closes
    c.close();
    if (!answer.empty() && answer.back() == '\n') answer.pop_back();
    std::printf("client 1: asked for 5 steps, waited, got \"%s\"\n", answer.c_str());
    const report r = *reports.recv();
    ok = ok && answer == "done 5 steps" && r.done == 5 && !r.err && !r.client_gone;
  }

  // Client 2 asks for 500 steps (10 s), hangs up after 200 ms, and the work
  // must stop long before it could have finished.
  {
    constexpr int steps = 500;
    goro::net::conn c = goro::net::dial("tcp", addr, 10s);
    const std::string request = "work " + std::to_string(steps) + "\n";
    c.write_all(request.data(), request.size());
    goro::sleep_for(200ms);
    std::printf("client 2: asked for %d steps, hung up\n", steps);
    std::fflush(stdout);
    const auto hung_up = goro::clock::now();
    c.close();
    const report r = *reports.recv();
    const auto stopped_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - hung_up).count();
    const bool early = r.done < steps && r.err == goro::context_errc::canceled && r.client_gone;
    // Nominally one step (20 ms); 5 s is a margin for an overloaded machine,
    // still half the time the work would have taken.
    const bool prompt = stopped_ms < 5000;
    std::printf("work stopped early, with err() == canceled: %s\n", early ? "yes" : "no");
    std::printf("work stopped within 5 s of the hang-up: %s\n", prompt ? "yes" : "no");
    if (!prompt) std::printf("  (it took %lld ms)\n", static_cast<long long>(stopped_ms));
    ok = ok && early && prompt;
  }

  ln.close();  // the accept loop returns
  server_done.wait();
  handlers->wait();
  // Every watcher and handler has returned; the count reaches 0 as their
  // goroutines finish exiting.
  const auto limit = goro::clock::now() + 5s;
  while (goro::num_goroutines() != 0 && goro::clock::now() < limit) goro::sleep_for(1ms);
  std::printf("goroutines left running: %zu\n", goro::num_goroutines());
  ok = ok && goro::num_goroutines() == 0;
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

int run_server(const std::string& addr) {
  goro::net::listener ln = goro::net::listen("tcp", addr);
  std::printf("listening on %s; send \"work N\" (N steps of 20 ms)\n", ln.addr().c_str());
  std::fflush(stdout);
  auto reports = goro::make_chan<report>(16);
  goro::go([reports] {
    while (reports.recv()) {  // the handlers have printed already
    }
  });
  serve(ln, goro::background(), reports, std::make_shared<goro::wait_group>());  // until killed
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 2 && std::strcmp(argv[1], "--self-test") == 0) return run_self_test();
    if (argc == 2 && argv[1][0] != '-') {
      const std::string arg = argv[1];
      return run_server(arg.find(':') == std::string::npos ? "127.0.0.1:" + arg : arg);
    }
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "cancel_on_disconnect: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: %s PORT|ADDR      serve\n"
               "       %s --self-test\n",
               argv[0], argv[0]);
  return 2;
}
