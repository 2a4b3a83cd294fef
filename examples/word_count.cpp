// word_count: count the words of every file under a directory, in parallel.
//
//   walker --paths--> 4 counters --partials--> merger (main) --> top 10
//                                                ^
//                                   ticker: progress every 100 ms
//
// The Go shape it mirrors:
//
//   paths := make(chan string, 64)
//   go func() { filepath.WalkDir(root, ... paths <- p ...); close(paths) }()
//   for i := 0; i < 4; i++ { wg.Add(1); go counter(paths, partials, &wg) }
//   go func() { wg.Wait(); close(partials) }()
//   tick := time.NewTicker(100 * time.Millisecond)
//   for {
//       select {
//       case p, ok := <-partials: if !ok { report(); return }; merge(p)
//       case <-tick.C:            fmt.Fprintf(os.Stderr, "scanned %d files...\n", n)
//       }
//   }
//
// A word is a run of ASCII letters and digits, lowercased ("Don't" is "don"
// and "t"). A file with a NUL byte in its first 8000 bytes is taken for
// binary and skipped (git's test); a file that cannot be read is skipped too.
//
// Reading a file is a blocking system call: it holds the worker thread, not
// just the goroutine. For files of ordinary size that is fine; see
// docs/runtime.md for what to do when it is not.
//
// Usage: word_count [directory]   (default ".")
#include "goro.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using word_counts = std::unordered_map<std::string, long>;

// What a counter found in one file. Moved through the channel, map and all.
struct partial {
  enum class kind { text, binary, unreadable } what = kind::text;
  word_counts counts;
  long words = 0;
};

// go func() { filepath.WalkDir(root, ...); close(paths) }()
void walk(const fs::path& root, goro::send_chan<fs::path> paths) {
  std::error_code ec;
  auto it =
      fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) paths.send(it->path());  // waits while counters are busy
  }
  if (ec) std::fprintf(stderr, "word_count: %s: %s\n", root.string().c_str(), ec.message().c_str());
  paths.close();
}

partial count_file(const fs::path& path) {
  partial result;
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {  // could not open, or a read error
    result.what = partial::kind::unreadable;
    return result;
  }
  if (text.find('\0') < 8000) {
    result.what = partial::kind::binary;
    return result;
  }
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    ++result.counts[word];
    ++result.words;
    word.clear();
  };
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      word += c;
    } else if (c >= 'A' && c <= 'Z') {
      word += static_cast<char>(c - 'A' + 'a');
    } else {
      flush();
    }
  }
  flush();
  return result;
}

// func counter(paths <-chan string, partials chan<- partial, wg *sync.WaitGroup)
void counter(goro::recv_chan<fs::path> paths, goro::send_chan<partial> partials,
             std::shared_ptr<goro::wait_group> wg) {
  for (const fs::path& path : paths) partials.send(count_file(path));
  wg->done();
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path root = argc > 1 ? argv[1] : ".";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    std::fprintf(stderr, "usage: %s [directory]: %s is not a directory\n", argv[0],
                 root.string().c_str());
    return 2;
  }

  // Small buffers: enough to keep every stage busy, not the whole tree in memory.
  auto paths = goro::make_chan<fs::path>(64);
  auto partials = goro::make_chan<partial>(16);

  goro::go(walk, root, paths);
  auto wg = std::make_shared<goro::wait_group>();
  const int counters = 4;
  wg->add(counters);
  for (int i = 0; i < counters; ++i) goro::go(counter, paths, partials, wg);
  goro::go(
      [wg](goro::send_chan<partial> partials) {  // go func() { wg.Wait(); close(partials) }()
        wg->wait();
        partials.close();
      },
      partials);

  // The merger: main, a plain thread, selects like any goroutine.
  word_counts totals;
  long files = 0, words = 0, binary = 0, unreadable = 0;
  goro::ticker progress(100ms);
  for (bool open = true; open;) {
    goro::select(goro::case_recv(partials,
                                 [&](std::optional<partial> p) {
                                   if (!p) {  // closed: every counter has finished
                                     open = false;
                                     return;
                                   }
                                   switch (p->what) {
                                     case partial::kind::binary:
                                       ++binary;
                                       return;
                                     case partial::kind::unreadable:
                                       ++unreadable;
                                       return;
                                     case partial::kind::text:
                                       break;
                                   }
                                   ++files;
                                   words += p->words;
                                   for (auto& [word, n] : p->counts) totals[word] += n;
                                 }),
                 goro::case_recv(progress.chan(), [&] {
                   std::fprintf(stderr, "scanned %ld files...\n", files + binary + unreadable);
                 }));
  }
  progress.stop();

  std::vector<std::pair<std::string, long>> top(totals.begin(), totals.end());
  const std::size_t shown = std::min<std::size_t>(10, top.size());
  // Most frequent first; ties alphabetically, so the output is the same on every run.
  std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(shown), top.end(),
                    [](const auto& a, const auto& b) {
                      return a.second != b.second ? a.second > b.second : a.first < b.first;
                    });
  std::printf("files: %ld (skipped: %ld binary, %ld unreadable)\n", files, binary, unreadable);
  std::printf("words: %ld (distinct: %zu)\n", words, totals.size());
  for (std::size_t i = 0; i < shown; ++i) {
    std::printf("%7ld %s\n", top[i].second, top[i].first.c_str());
  }
  return 0;
}
