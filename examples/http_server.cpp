// http_server: a minimal HTTP/1.1 server with keep-alive, a goroutine per connection.
//
// The Go program it mirrors (net/http's hello world):
//
//   http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
//       if r.URL.Path != "/" { http.NotFound(w, r); return }
//       fmt.Fprint(w, "Hello, World!")
//   })
//   http.ListenAndServe("127.0.0.1:8080", nil)
//
// which, underneath, is the accept loop of every Go server: one goroutine per
// connection (net/http's conn.serve), reading requests one after another off
// a kept-alive connection. Here that loop is written out: read into a
// buffer; answer every complete request in it (so pipelined requests, as
// `wrk` and browsers send them, are answered in order, in one write); read
// again when only part of a request has arrived.
//
// What it understands: the request line, Content-Length (a request body is
// read and ignored), Connection: close / keep-alive, HTTP/1.0 and 1.1.
// `GET /` (and HEAD) answers "Hello, World!", other paths 404, other
// methods 405; a malformed request gets 400, an over-long head 431, a
// chunked request body 501, and the connection is closed after those.
//
// Usage:
//   http_server PORT|ADDR        serve on 127.0.0.1:PORT (or ADDR) until killed;
//                                try `curl -v http://127.0.0.1:PORT/` or `wrk`
//   http_server --self-test      the server on 127.0.0.1:0, and a client in this process
//                                that sends requests over one kept-alive connection
//                                (pipelined, split, with a body, then Connection: close)
//                                and checks every response
#include "goro.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// The longest request head (request line + headers) accepted, as Go's
/// http.DefaultMaxHeaderBytes is 1 MiB; ours is smaller, the server is small.
constexpr std::size_t max_head = 16 * 1024;

bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// True if the comma-separated header value holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (equals_nocase(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

/// One parsed request head; the views point into the connection's buffer.
struct request {
  std::string_view method, target;
  bool http11 = true;
  bool keep_alive = true;
  bool chunked = false;
  std::size_t content_length = 0;
};

/// Parses the head in `head` (without the blank line). False if malformed.
bool parse_head(std::string_view head, request& req) {
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    req.http11 = true;
  } else if (version == "HTTP/1.0") {
    req.http11 = false;
  } else {
    return false;
  }
  bool close = false, keep_alive = false, have_length = false;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_nocase(name, "connection")) {
      close = close || has_token(value, "close");
      keep_alive = keep_alive || has_token(value, "keep-alive");
    } else if (equals_nocase(name, "content-length")) {
      std::size_t n = 0;
      if (value.empty() || value.size() > 15) return false;
      for (char ch : value) {
        if (ch < '0' || ch > '9') return false;
        n = n * 10 + static_cast<std::size_t>(ch - '0');
      }
      if (have_length && n != req.content_length) return false;  // conflicting lengths
      have_length = true;
      req.content_length = n;
    } else if (equals_nocase(name, "transfer-encoding")) {
      req.chunked = true;
    }
  }
  req.keep_alive = req.http11 ? !close : keep_alive && !close;
  return true;
}

/// Appends a response with a plain-text body to out.
void respond(std::string& out, const request& req, int status, std::string_view reason,
             std::string_view body, bool keep_alive, std::string_view extra_headers = {}) {
  out += req.http11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  out += extra_headers;
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (!req.http11) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (req.method != "HEAD") out += body;
}

// func (c *conn) serve(): requests off one connection until it is closed,
// by the client or after a response that says Connection: close.
void serve_conn(goro::net::conn c) {
  std::string in, out;
  std::size_t scanned = 0;  // in[0, scanned) holds no "\r\n\r\n"
  char buf[16 * 1024];
  bool open = true;
  try {
    while (open) {
      // Every complete request already buffered, answered in order.
      for (;;) {
        const std::size_t end = in.find("\r\n\r\n", scanned);
        if (end == std::string::npos) {
          scanned = in.size() < 3 ? 0 : in.size() - 3;
          if (in.size() > max_head) {
            request bad;
            respond(out, bad, 431, "Request Header Fields Too Large",
                    "431 request header fields too large\n", false);
            open = false;
          }
          break;
        }
        request req;
        if (!parse_head(std::string_view(in).substr(0, end), req)) {
          request bad;
          respond(out, bad, 400, "Bad Request", "400 bad request\n", false);
          open = false;
          break;
        }
        if (req.chunked) {
          respond(out, req, 501, "Not Implemented",
                  "501 chunked request bodies are not supported\n", false);
          open = false;
          break;
        }
        const std::size_t total = end + 4 + req.content_length;
        if (in.size() < total) break;  // the body is still on its way
        if (req.method != "GET" && req.method != "HEAD") {
          respond(out, req, 405, "Method Not Allowed", "405 method not allowed\n", req.keep_alive,
                  "Allow: GET, HEAD\r\n");
        } else if (req.target != "/") {
          respond(out, req, 404, "Not Found", "404 page not found\n", req.keep_alive);
        } else {
          respond(out, req, 200, "OK", "Hello, World!", req.keep_alive);
        }
        in.erase(0, total);  // the views in req are dead from here
        scanned = 0;
        if (!req.keep_alive) {
          open = false;
          break;
        }
      }
      if (!out.empty()) {
        c.write_all(out.data(), out.size());
        out.clear();
      }
      if (!open) break;
      const std::size_t n = c.read(buf, sizeof buf);
      if (n == 0) break;  // the client closed the connection
      in.append(buf, n);
    }
  } catch (const goro::net::error&) {
    // Reset by the client, or the like: nothing to answer.
  }
  c.close();
}

void serve(goro::net::listener ln) {
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
    goro::go(serve_conn, c);
  }
}

std::string address_of(const std::string& arg) {
  return arg.find(':') == std::string::npos ? "127.0.0.1:" + arg : arg;
}

// ---- the self-test client ----------------------------------------------------

/// A response as the test client reads it.
struct response {
  int status = 0;
  bool close = false;
  std::string body;
};

/// Reads responses off a connection, keeping what arrives beyond one.
class response_reader {
 public:
  explicit response_reader(goro::net::conn c) : c_(std::move(c)) {}

  /// The next response; status 0 if the connection ended first. A response
  /// to HEAD has a Content-Length but no body.
  response next(bool to_head) {
    response r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::atoi(head.c_str() + head.find(' ') + 1);
    std::size_t length = 0;
    std::size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string::npos) {
      pos += 2;
      const std::string line = head.substr(pos, head.find("\r\n", pos) - pos);
      if (line.rfind("Content-Length: ", 0) == 0)
        length = std::strtoul(line.c_str() + 16, nullptr, 10);
      if (line == "Connection: close") r.close = true;
    }
    if (to_head) length = 0;
    while (buf_.size() < length)
      if (!fill()) return response{};
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  /// True if the server closed the connection with nothing more to read.
  bool at_eof() { return buf_.empty() && !fill(); }

 private:
  bool fill() {
    char tmp[4096];
    const std::size_t n = c_.read(tmp, sizeof tmp);
    buf_.append(tmp, n);
    return n != 0;
  }
  goro::net::conn c_;
  std::string buf_;
};

int run_self_test() {
  goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
  goro::wait_group server_done;
  server_done.add(1);
  goro::go([&] {
    serve(ln);
    server_done.done();
  });

  bool ok = true;
  int answered = 0;
  try {
    goro::net::conn c = goro::net::dial("tcp", ln.addr(), std::chrono::seconds(10));
    response_reader rd(c);
    auto send = [&](std::string_view s) { c.write_all(s.data(), s.size()); };
    // Prints one response; `want` is the status expected.
    auto check = [&](const char* what, int want, bool want_close) {
      const response r =
          rd.next(std::strncmp(what, "HEAD", 4) == 0 || std::strstr(what, " HEAD ") != nullptr);
      std::printf("%s -> %d%s%s%s\n", what, r.status, r.body.empty() ? "" : " ",
                  r.body.substr(0, r.body.find('\n')).c_str(),
                  r.close ? " (Connection: close)" : "");
      if (r.status != want || r.close != want_close) ok = false;
      if (r.status != 0) ++answered;
    };

    send("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
    check("GET /", 200, false);
    send("GET /missing HTTP/1.1\r\nHost: test\r\n\r\n");
    check("GET /missing", 404, false);
    // Three requests in one write: three answers, in order.
    send(
        "GET / HTTP/1.1\r\nHost: test\r\n\r\nGET /a HTTP/1.1\r\nHost: test\r\n\r\n"
        "HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
    check("pipelined GET /", 200, false);
    check("pipelined GET /a", 404, false);
    check("pipelined HEAD /", 200, false);
    // One request in pieces, so the server reads it in several parts.
    for (std::string_view part : {"GE", "T / HTTP/1.1\r\nHo", "st: test\r", "\n\r\n"}) {
      send(part);
      goro::sleep_for(std::chrono::milliseconds(5));
    }
    check("GET / in 4 pieces", 200, false);
    // A body is read past, and the next request is still understood.
    send("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello=world");
    check("POST / with a body", 405, false);
    send("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    check("GET / with Connection: close", 200, true);
    const bool eof = rd.at_eof();
    std::printf("server closed the connection: %s\n", eof ? "yes" : "no");
    ok = ok && eof;
    c.close();
  } catch (const goro::net::error& e) {
    std::printf("client: %s\n", e.what());
    ok = false;
  }
  ln.close();
  server_done.wait();
  std::printf("%d responses over one connection\n%s\n", answered, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 2 && std::strcmp(argv[1], "--self-test") == 0) return run_self_test();
    if (argc == 2 && argv[1][0] != '-') {
      goro::net::listener ln = goro::net::listen("tcp", address_of(argv[1]));
      std::printf("http server listening on %s\n", ln.addr().c_str());
      std::fflush(stdout);
      serve(ln);  // until killed
      return 0;
    }
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "http_server: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: %s PORT|ADDR\n       %s --self-test\n", argv[0], argv[0]);
  return 2;
}
