// redis_server: a key-value server speaking the Redis protocol (RESP).
//
// The Go program it mirrors (the shape of every small Go Redis clone):
//
//   var (mu sync.Mutex; data = map[string]string{})
//   ln, _ := net.Listen("tcp", "127.0.0.1:6379")
//   for {
//       conn, _ := ln.Accept()
//       go func(c net.Conn) {                    // one goroutine per client
//           r := bufio.NewReader(c); w := bufio.NewWriter(c)
//           for {
//               cmd, err := readCommand(r)       // a RESP array, or an inline line
//               if err != nil { return }
//               execute(cmd, w)                  // mu.Lock(); data[k] = v; mu.Unlock() ...
//               if r.Buffered() == 0 { w.Flush() }   // pipelining: one write per batch
//           }
//       }(conn)
//   }
//
// Each connection's goroutine reads commands and answers them; the shared
// map is guarded by a goro::mutex, which parks a goroutine that has to wait
// instead of blocking its worker thread. Replies to every command already
// received are gathered and written at once, so a client that pipelines
// (sends many commands before reading, like `redis-cli --pipe`) gets its
// replies in order in a few large writes.
//
// Commands: PING [msg], ECHO msg, SET key value, GET key, DEL key..., INCR key,
// EXISTS key..., DBSIZE, QUIT, and COMMAND (an empty answer, enough for
// redis-cli's interactive mode). Both forms of request are understood: RESP
// arrays of bulk strings (what clients send) and inline commands (a plain
// line, what you type into telnet or nc).
//
// Usage:
//   redis_server [PORT|ADDR]      serve on 127.0.0.1:PORT (default 6379; 0 picks a free
//                                 port) until killed; prints the address it listens on.
//                                 Try it with `redis-cli -p PORT`.
// Its test (examples/redis_cli_test.sh) drives it with the real redis-cli.
#include "goro.hpp"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

/// The database: a map guarded by a goro::mutex (Go's sync.Mutex).
class store {
 public:
  void set(std::string key, std::string value) {
    std::lock_guard<goro::mutex> lock(mu_);
    data_[std::move(key)] = std::move(value);
  }
  bool get(const std::string& key, std::string& value) {
    std::lock_guard<goro::mutex> lock(mu_);
    auto it = data_.find(key);
    if (it == data_.end()) return false;
    value = it->second;
    return true;
  }
  bool erase(const std::string& key) {
    std::lock_guard<goro::mutex> lock(mu_);
    return data_.erase(key) != 0;
  }
  bool contains(const std::string& key) {
    std::lock_guard<goro::mutex> lock(mu_);
    return data_.count(key) != 0;
  }
  std::size_t size() {
    std::lock_guard<goro::mutex> lock(mu_);
    return data_.size();
  }
  /// INCR: false if the value is not a 64-bit integer or would overflow
  /// (the value is then left as it was). A missing key counts as 0.
  bool incr(const std::string& key, long long& result) {
    std::lock_guard<goro::mutex> lock(mu_);
    std::string& v = data_[key];  // inserts "" for a missing key: 0
    long long n = 0;
    if (!v.empty()) {
      char* end = nullptr;
      errno = 0;
      n = std::strtoll(v.c_str(), &end, 10);
      if (errno != 0 || *end != '\0' || std::isspace(static_cast<unsigned char>(v[0])))
        return false;
    }
    if (n == LLONG_MAX) return false;
    result = n + 1;
    v = std::to_string(result);
    return true;
  }

 private:
  goro::mutex mu_;
  std::unordered_map<std::string, std::string> data_;
};

// ---- replies (RESP) ---------------------------------------------------------

void simple(std::string& out, std::string_view s) {
  out += '+';
  out += s;
  out += "\r\n";
}
void error(std::string& out, std::string_view s) {
  out += '-';
  out += s;
  out += "\r\n";
}
void integer(std::string& out, long long n) {
  out += ':';
  out += std::to_string(n);
  out += "\r\n";
}
void bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out += s;
  out += "\r\n";
}
void nil(std::string& out) { out += "$-1\r\n"; }

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

// ---- requests ---------------------------------------------------------------

/// How parsing one request from the buffer went.
enum class parse_result { done, need_more, bad };

/// The limits Redis itself applies to a request.
constexpr std::size_t max_args = 1024 * 1024;
constexpr std::size_t max_bulk = 512 * 1024 * 1024;
constexpr std::size_t max_inline = 64 * 1024;

/// Parses a decimal count at in[pos..] up to "\r\n"; advances pos past it.
parse_result parse_count(std::string_view in, std::size_t& pos, long long& n) {
  const std::size_t eol = in.find("\r\n", pos);
  if (eol == std::string_view::npos)
    return in.size() - pos > 32 ? parse_result::bad : parse_result::need_more;
  if (eol == pos || eol - pos > 18) return parse_result::bad;
  n = 0;
  std::size_t i = pos;
  const bool negative = in[i] == '-';
  if (negative) ++i;
  if (i == eol) return parse_result::bad;
  for (; i < eol; ++i) {
    if (in[i] < '0' || in[i] > '9') return parse_result::bad;
    n = n * 10 + (in[i] - '0');
  }
  if (negative) n = -n;
  pos = eol + 2;
  return parse_result::done;
}

/// Parses one request starting at in[pos]: a RESP array of bulk strings, or
/// an inline command (words separated by spaces, ended by "\n" or "\r\n").
/// On done, args holds the words and pos is past the request. An empty
/// inline line gives no args (and is skipped, as Redis does).
parse_result parse_request(std::string_view in, std::size_t& pos, std::vector<std::string>& args,
                           std::string& why) {
  args.clear();
  std::size_t p = pos;
  if (in[p] == '*') {
    ++p;
    long long count = 0;
    parse_result r = parse_count(in, p, count);
    if (r != parse_result::done) {
      why = "invalid multibulk length";
      return r;
    }
    if (count < 0 || static_cast<std::size_t>(count) > max_args) {
      why = "invalid multibulk length";
      return parse_result::bad;
    }
    for (long long i = 0; i < count; ++i) {
      if (p >= in.size()) return parse_result::need_more;
      if (in[p] != '$') {
        why = std::string("expected '$', got '") + in[p] + "'";
        return parse_result::bad;
      }
      ++p;
      long long len = 0;
      r = parse_count(in, p, len);
      if (r != parse_result::done) {
        why = "invalid bulk length";
        return r;
      }
      if (len < 0 || static_cast<std::size_t>(len) > max_bulk) {
        why = "invalid bulk length";
        return parse_result::bad;
      }
      const std::size_t n = static_cast<std::size_t>(len);
      if (in.size() - p < n + 2) return parse_result::need_more;
      if (in[p + n] != '\r' || in[p + n + 1] != '\n') {
        why = "bulk string not followed by CRLF";
        return parse_result::bad;
      }
      args.emplace_back(in.substr(p, n));
      p += n + 2;
    }
    pos = p;
    return parse_result::done;
  }
  const std::size_t eol = in.find('\n', p);
  if (eol == std::string_view::npos) {
    if (in.size() - p > max_inline) {
      why = "too big inline request";
      return parse_result::bad;
    }
    return parse_result::need_more;
  }
  std::string_view line = in.substr(p, eol - p);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  while (!line.empty()) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const std::size_t end = line.find_first_of(" \t");
    args.emplace_back(line.substr(0, end));
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
  pos = eol + 1;
  return parse_result::done;
}

/// Runs one command, appending its reply to out. False: close the connection
/// after the reply (QUIT).
bool execute(store& db, const std::vector<std::string>& args, std::string& out) {
  const std::string cmd = lower(args[0]);
  const std::size_t n = args.size();
  auto arity = [&](bool ok) {
    if (!ok) error(out, "ERR wrong number of arguments for '" + cmd + "' command");
    return ok;
  };
  if (cmd == "ping") {
    if (!arity(n <= 2)) return true;
    if (n == 1) {
      simple(out, "PONG");
    } else {
      bulk(out, args[1]);
    }
  } else if (cmd == "echo") {
    if (arity(n == 2)) bulk(out, args[1]);
  } else if (cmd == "set") {
    if (n > 3) {
      error(out, "ERR syntax error");  // no EX/PX/NX/XX here
    } else if (arity(n == 3)) {
      db.set(args[1], args[2]);
      simple(out, "OK");
    }
  } else if (cmd == "get") {
    std::string value;
    if (!arity(n == 2)) return true;
    if (db.get(args[1], value)) {
      bulk(out, value);
    } else {
      nil(out);
    }
  } else if (cmd == "del" || cmd == "exists") {
    if (!arity(n >= 2)) return true;
    long long count = 0;
    for (std::size_t i = 1; i < n; ++i)
      count += (cmd == "del" ? db.erase(args[i]) : db.contains(args[i])) ? 1 : 0;
    integer(out, count);
  } else if (cmd == "incr") {
    long long value = 0;
    if (!arity(n == 2)) return true;
    if (db.incr(args[1], value)) {
      integer(out, value);
    } else {
      error(out, "ERR value is not an integer or out of range");
    }
  } else if (cmd == "dbsize") {
    if (arity(n == 1)) integer(out, static_cast<long long>(db.size()));
  } else if (cmd == "command") {
    out += "*0\r\n";  // redis-cli asks for the command table; it does without
  } else if (cmd == "quit") {
    simple(out, "OK");
    return false;
  } else {
    std::string msg = "ERR unknown command '" + args[0] + "', with args beginning with: ";
    for (std::size_t i = 1; i < n && i < 4; ++i) msg += "'" + args[i] + "' ";
    error(out, msg);
  }
  return true;
}

// The connection's goroutine: read, answer every whole request received,
// write the replies in one go, read again.
void serve_conn(goro::net::conn c, store& db) {
  std::string in, out;
  std::vector<std::string> args;
  std::string why;
  char buf[16 * 1024];
  bool open = true;
  try {
    while (open) {
      std::size_t pos = 0;
      while (pos < in.size()) {
        const parse_result r = parse_request(in, pos, args, why);
        if (r == parse_result::need_more) break;
        if (r == parse_result::bad) {
          error(out, "ERR Protocol error: " + why);
          open = false;  // Redis closes the connection after a protocol error
          break;
        }
        if (!args.empty() && !execute(db, args, out)) {
          open = false;
          break;
        }
      }
      in.erase(0, pos);
      if (!out.empty()) {
        c.write_all(out.data(), out.size());
        out.clear();
      }
      if (!open) break;
      const std::size_t got = c.read(buf, sizeof buf);
      if (got == 0) break;  // the client hung up
      in.append(buf, got);
    }
  } catch (const goro::net::error&) {
    // Reset by the client: nothing left to answer.
  }
  c.close();
}

// The accept loop, a goroutine per connection; returns if the listener is closed.
void serve(goro::net::listener ln) {
  static store db;  // shared by every connection goroutine; outlives them all
  std::printf("redis server listening on %s\n", ln.addr().c_str());
  std::fflush(stdout);
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
    goro::go([c] { serve_conn(c, db); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:6379";
  if (argc == 2 && argv[1][0] != '-') {
    addr = argv[1];
    if (addr.find(':') == std::string::npos) addr = "127.0.0.1:" + addr;
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: %s [PORT|ADDR]   (default 127.0.0.1:6379; port 0 picks one)\n",
                 argv[0]);
    return 2;
  }
  try {
    serve(goro::net::listen("tcp", addr));
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "redis_server: %s\n", e.what());
    return 1;
  }
  return 0;
}
