// chat: a TCP chat server built around a broadcast hub goroutine.
//
// The Go program it mirrors (the chat server of "The Go Programming
// Language", section 8.10):
//
//   type client chan<- string           // an outgoing message channel
//   var (entering = make(chan client); leaving = make(chan client)
//        messages = make(chan string))   // all incoming client messages
//
//   func broadcaster() {
//       clients := make(map[client]bool) // owned by this goroutine alone
//       for {
//           select {
//           case msg := <-messages:  for cli := range clients { cli <- msg }
//           case cli := <-entering:  clients[cli] = true
//           case cli := <-leaving:   delete(clients, cli); close(cli)
//           }
//       }
//   }
//   func handleConn(conn net.Conn) {
//       ch := make(chan string)
//       go clientWriter(conn, ch)        // the writer: for msg := range ch { fmt.Fprintln(conn,
//       msg) }
//       ... entering <- ch; for input.Scan() { messages <- who + ": " + input.Text() }
//       leaving <- ch; messages <- who + " has left"; conn.Close()
//   }
//
// No mutex anywhere: the set of clients belongs to the hub goroutine, and
// everyone else talks to it over channels ("share memory by communicating").
// Because one goroutine forwards every message, all clients see the messages
// in the same order. One change from the book: a client's outgoing channel is
// buffered and the hub never waits on it (try_send); a client too slow to
// keep up is disconnected instead of stalling the whole room.
//
// Protocol: a client's first line is its name; every later line is a
// message, relayed to everyone (the sender too) as "name: text". Lines that
// start with "* " are notices from the server (joins, departures).
//
// Usage:
//   chat PORT|ADDR                 serve on 127.0.0.1:PORT (or ADDR) until killed;
//                                  try it with `nc 127.0.0.1 PORT` in two terminals
//   chat --self-test N [MESSAGES]  the server on 127.0.0.1:0 and N clients in this
//                                  process, each sending MESSAGES (default 5) lines;
//                                  checks that every client got every message, in
//                                  one order, and prints a summary the ctest checks
#include "goro.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

/// How many messages may wait for a slow client before it is dropped.
constexpr std::size_t outgoing_capacity = 256;

/// What the hub knows of a client: a number that identifies it, its name and
/// its outgoing channel (copies share the channel).
struct client {
  std::uint64_t id = 0;
  std::string name;
  goro::chan<std::string> out;
};

/// The hub's three inputs, shared by every connection goroutine.
struct hub_channels {
  goro::chan<client> entering = goro::make_chan<client>();
  goro::chan<client> leaving = goro::make_chan<client>();
  goro::chan<std::string> messages = goro::make_chan<std::string>();
  /// Counts the connections' reader and writer goroutines, so that the
  /// self-test can stop the hub only once nobody will send to it again.
  std::shared_ptr<goro::wait_group> conns = std::make_shared<goro::wait_group>();
};

/// Calls conns->done() on the way out of a connection goroutine, however it ends.
struct done_guard {
  std::shared_ptr<goro::wait_group> wg;
  ~done_guard() { wg->done(); }
};

// func broadcaster(): the only goroutine that touches `clients`. Returns
// when `messages` is closed (the self-test's shutdown, once every client
// has left), after closing any remaining client's channel.
void hub(hub_channels ch) {
  std::map<std::uint64_t, client> clients;
  bool running = true;
  // Drops a client: its writer sees the channel closed, writes what is
  // buffered and closes the connection, which ends its reader too.
  auto drop = [&](std::uint64_t id) {
    auto it = clients.find(id);
    if (it == clients.end()) return;  // dropped before, as too slow
    it->second.out.close();
    clients.erase(it);
  };
  while (running) {
    goro::select(goro::case_recv(ch.messages,
                                 [&](std::optional<std::string> msg) {
                                   if (!msg) {
                                     running = false;
                                     return;
                                   }
                                   std::vector<std::uint64_t> slow;
                                   for (auto& entry : clients) {
                                     // Never wait on one client: a full buffer means it
                                     // stopped reading.
                                     if (entry.second.out.try_send(*msg) != goro::op_status::ok)
                                       slow.push_back(entry.first);
                                   }
                                   for (std::uint64_t id : slow) drop(id);
                                 }),
                 goro::case_recv(ch.entering,
                                 [&](std::optional<client> c) {
                                   if (!c) return;  // never closed; a closed channel gives nullopt
                                   // The welcome is the first line a client gets; every
                                   // message the hub takes after this one reaches it too.
                                   (void)c->out.try_send("* welcome, " + c->name);
                                   const std::uint64_t id = c->id;
                                   clients.emplace(id, std::move(*c));
                                 }),
                 goro::case_recv(ch.leaving, [&](std::optional<client> c) {
                   if (c) drop(c->id);
                 }));
  }
  for (auto& entry : clients) entry.second.out.close();
}

// func clientWriter(conn, ch): everything the hub sends this client, written
// in order. When the hub closes the channel (the client left or was too
// slow), the writer closes the connection; a write error ends it early.
void client_writer(goro::net::conn c, goro::chan<std::string> out,
                   std::shared_ptr<goro::wait_group> conns) {
  done_guard guard{std::move(conns)};
  try {
    for (std::string line : out) {
      line += '\n';
      c.write_all(line.data(), line.size());
    }
  } catch (const goro::net::error&) {
    // The peer went away; the reader sees it too and tells the hub.
  }
  try {
    c.close();
  } catch (const goro::net::closed_error&) {
  }
}

/// Splits a byte stream into lines (without the '\n'; a trailing '\r' is
/// dropped too, for telnet and nc -C).
class line_reader {
 public:
  explicit line_reader(goro::net::conn c) : c_(std::move(c)) {}

  /// The next line; false at EOF (a last line without '\n' is returned first).
  bool next(std::string& line) {
    for (;;) {
      const std::size_t nl = buf_.find('\n', scanned_);
      if (nl != std::string::npos) {
        line.assign(buf_, 0, nl);
        buf_.erase(0, nl + 1);
        scanned_ = 0;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
      scanned_ = buf_.size();
      if (buf_.size() > max_line) return false;  // not a chat client; hang up
      char tmp[4096];
      const std::size_t n = c_.read(tmp, sizeof tmp);
      if (n == 0) {
        if (buf_.empty()) return false;
        line.swap(buf_);
        buf_.clear();
        scanned_ = 0;
        return true;
      }
      buf_.append(tmp, n);
    }
  }

 private:
  static constexpr std::size_t max_line = 64 * 1024;
  goro::net::conn c_;
  std::string buf_;
  std::size_t scanned_ = 0;  // buf_[0, scanned_) holds no '\n'
};

// func handleConn(conn): this goroutine is the client's reader; it starts
// the writer, registers with the hub and relays every line it reads.
void handle_conn(goro::net::conn c, hub_channels ch) {
  done_guard guard{ch.conns};
  line_reader in(c);
  std::string name;
  try {
    if (!in.next(name) || name.empty()) {
      c.close();
      return;
    }
  } catch (const goro::net::error&) {
    c.close();
    return;
  }
  static std::atomic<std::uint64_t> next_id{0};
  client me{++next_id, name, goro::make_chan<std::string>(outgoing_capacity)};
  ch.conns->add(1);
  goro::go(client_writer, c, me.out, ch.conns);
  ch.messages.send("* " + name + " has arrived");
  ch.entering.send(me);
  std::string line;
  try {
    while (in.next(line)) ch.messages.send(name + ": " + line);
  } catch (const goro::net::error&) {
    // Reset by the peer, or the writer closed the connection (we were
    // dropped): either way this client is gone.
  }
  ch.leaving.send(me);
  ch.messages.send("* " + name + " has left");
}

void serve(goro::net::listener ln, hub_channels ch) {
  for (;;) {
    goro::net::conn c;
    try {
      c = ln.accept();
    } catch (const goro::net::closed_error&) {
      return;
    } catch (const goro::net::error& e) {
      std::fprintf(stderr, "accept: %s\n", e.what());
      goro::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    ch.conns->add(1);
    goro::go(handle_conn, c, ch);
  }
}

std::string address_of(const std::string& arg) {
  return arg.find(':') == std::string::npos ? "127.0.0.1:" + arg : arg;
}

int run_server(const std::string& addr) {
  hub_channels ch;
  goro::net::listener ln = goro::net::listen("tcp", addr);
  std::printf("chat server listening on %s\n", ln.addr().c_str());
  std::fflush(stdout);
  goro::go(hub, ch);
  serve(ln, ch);
  return 0;
}

// ---- the self-test --------------------------------------------------------

/// What one test client saw: the chat lines (notices left out), in order.
struct transcript {
  std::vector<std::string> lines;
  bool welcomed = false;
  std::string error;
};

// A test client: joins as `name`, waits at `ready` until every client has
// joined (so nobody misses a message), sends its messages, then reads until
// it has seen `expected` chat lines.
void test_client(const std::string& addr, const std::string& name, int messages,
                 std::size_t expected, goro::wait_group& ready, transcript& out) {
  try {
    goro::net::conn c = goro::net::dial("tcp", addr, std::chrono::seconds(10));
    line_reader in(c);
    std::string hello = name + "\n";
    c.write_all(hello.data(), hello.size());
    std::string line;
    // The welcome is the first line, and arrives once the hub is about to
    // add us: nothing sent after every client read it can be missed.
    out.welcomed = in.next(line) && line == "* welcome, " + name;
    ready.done();
    ready.wait();
    std::string batch;
    for (int i = 1; i <= messages; ++i)
      batch += "message " + std::to_string(i) + " from " + name + "\n";
    c.write_all(batch.data(), batch.size());
    while (out.lines.size() < expected && in.next(line)) {
      if (line.compare(0, 2, "* ") != 0) out.lines.push_back(line);
    }
    c.close();
  } catch (const goro::net::error& e) {
    out.error = e.what();
  }
}

int run_self_test(int clients, int messages) {
  hub_channels ch;
  goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
  goro::wait_group server_done;
  server_done.add(2);
  goro::go([&] {
    hub(ch);
    server_done.done();
  });
  goro::go([&] {
    serve(ln, ch);
    server_done.done();
  });

  const std::string addr = ln.addr();
  const std::size_t expected =
      static_cast<std::size_t>(clients) * static_cast<std::size_t>(messages);
  std::vector<std::string> names;
  for (int i = 1; i <= clients; ++i) names.push_back("user" + std::to_string(i));
  std::vector<transcript> seen(static_cast<std::size_t>(clients));
  goro::wait_group ready, finished;
  ready.add(clients);
  finished.add(clients);
  for (std::size_t i = 0; i < names.size(); ++i) {
    goro::go([&, i] {
      test_client(addr, names[i], messages, expected, ready, seen[i]);
      finished.done();
    });
  }
  finished.wait();
  ln.close();
  // Every client has hung up; once their server goroutines are gone, nobody
  // sends to the hub any more, and closing `messages` tells it to stop.
  ch.conns->wait();
  ch.messages.close();
  server_done.wait();

  bool ok = true;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i].error.empty()) {
      std::printf("%s: %s\n", names[i].c_str(), seen[i].error.c_str());
      ok = false;
    }
    if (!seen[i].welcomed) {
      std::printf("%s: no welcome\n", names[i].c_str());
      ok = false;
    }
  }
  // Everyone saw the same lines in the same order: the hub's order.
  bool same = true;
  for (const transcript& t : seen) same = same && t.lines == seen[0].lines;
  // That order holds each sender's messages, each once and in the order sent.
  bool complete = seen[0].lines.size() == expected;
  std::map<std::string, int> next;
  for (const std::string& line : seen[0].lines) {
    const std::size_t colon = line.find(": ");
    if (colon == std::string::npos) {
      complete = false;
      continue;
    }
    const std::string who = line.substr(0, colon);
    const int n = ++next[who];
    if (line.substr(colon + 2) != "message " + std::to_string(n) + " from " + who) complete = false;
  }
  complete = complete && static_cast<int>(next.size()) == clients;
  ok = ok && same && complete;
  std::printf("chat: %d clients, %d messages each\n", clients, messages);
  std::printf("every client got all %zu messages: %s\n", expected, complete ? "yes" : "no");
  std::printf("all clients saw one order: %s\n", same ? "yes" : "no");
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::strcmp(argv[1], "--self-test") == 0) {
      const int clients = std::atoi(argv[2]);
      const int messages = argc > 3 ? std::atoi(argv[3]) : 5;
      if (clients <= 0 || messages <= 0 ||
          static_cast<std::size_t>(clients) * static_cast<std::size_t>(messages) >=
              outgoing_capacity) {
        std::fprintf(stderr, "usage: %s --self-test CLIENTS [MESSAGES], CLIENTS x MESSAGES < %zu\n",
                     argv[0], outgoing_capacity);
        return 2;
      }
      return run_self_test(clients, messages);
    }
    if (argc == 2 && argv[1][0] != '-') return run_server(address_of(argv[1]));
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "chat: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: %s PORT|ADDR\n       %s --self-test N [MESSAGES]\n", argv[0],
               argv[0]);
  return 2;
}
