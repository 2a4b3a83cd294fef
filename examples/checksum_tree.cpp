// checksum_tree: the pipeline example of golang.org/x/sync/errgroup, which
// computes a digest of every file under a directory with a bounded number
// of workers and stops at the first error.
//
//   g, ctx := errgroup.WithContext(ctx)
//   paths := make(chan string)
//   g.Go(func() error {                      // the walker
//       defer close(paths)
//       return filepath.Walk(root, func(path string, ...) error {
//           select {
//           case paths <- path:
//           case <-ctx.Done(): return ctx.Err()
//           }
//       })
//   })
//   c := make(chan result)
//   for i := 0; i < numDigesters; i++ {      // bounded: numDigesters workers
//       g.Go(func() error {
//           for path := range paths {
//               data, err := os.ReadFile(path)
//               if err != nil { return err }
//               select {
//               case c <- result{path, md5.Sum(data)}:
//               case <-ctx.Done(): return ctx.Err()
//               }
//           }
//           return nil
//       })
//   }
//   go func() { g.Wait(); close(c) }()
//   for r := range c { m[r.path] = r.sum }
//   return m, g.Wait()                       // the first error, if any
//
// In goro the `select { case c <- v: case <-ctx.Done(): }` pairs are
// `c.send(ctx, v)`, which throws goro::context_error when the group's
// context is cancelled, and a member fails by throwing. The results channel
// is closed by the last digester to leave (however it leaves), so the
// collector's range ends even when the group fails.
//
// The checksum is 64-bit FNV-1a (not a cryptographic digest: it keeps the
// example short). Reading a file blocks its thread while the disk answers,
// which a goroutine must never do to its worker, so the reads go through
// goro::blocking: `goro::blocking(g.context(), read_file, path, name)` runs
// read_file on a helper thread while the goroutine is parked and its worker
// runs the others (Go needs no such call: its runtime hands a thread stuck
// in a system call's scheduling context to another thread). The context
// form stops waiting once the group is cancelled: the digester leaves with
// goro::context_error, and a read already under way finishes on its helper
// and is discarded.
//
// Usage: checksum_tree DIR [--workers N] [--fail-on RELATIVE_PATH]
// --fail-on makes reading that file fail, to show the group stop at it.
#include "goro.hpp"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct file_sum {
  std::string path;  ///< relative to the root, with '/' separators
  std::uint64_t sum = 0;
  std::uintmax_t bytes = 0;
};

std::uint64_t fnv1a(const std::string& data) {
  std::uint64_t h = 0xcbf29ce484222325u;
  for (char byte : data) {
    h ^= static_cast<unsigned char>(byte);
    h *= 0x100000001b3u;
  }
  return h;
}

/// Reads a whole file; throws std::runtime_error naming it on failure.
std::string read_file(const fs::path& p, const std::string& name) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(name + ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(name + ": read error");
  return data;
}

/// Checksums every regular file under root with `workers` digesters. Returns
/// the sums by path; rethrows the first failure.
std::map<std::string, file_sum> checksum_all(const fs::path& root, int workers,
                                             const std::string& fail_on) {
  goro::errgroup g(goro::background());
  auto paths = goro::make_chan<std::string>();  // relative paths
  auto sums = goro::make_chan<file_sum>();

  g.go([&g, paths, root] {  // the walker
    // Close paths however we leave, so the digesters' loops end.
    struct closer {
      goro::chan<std::string> c;
      ~closer() { c.close(); }
    } close_paths{paths};
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      paths.send(g.context(), fs::relative(e.path(), root).generic_string());
    }
  });

  std::atomic<int> digesters_left{workers};
  for (int i = 0; i < workers; ++i) {
    g.go([&g, &digesters_left, paths, sums, root, fail_on] {
      struct last_one_closes {
        std::atomic<int>& left;
        goro::chan<file_sum> c;
        ~last_one_closes() {
          if (left.fetch_sub(1) == 1) c.close();
        }
      } guard{digesters_left, sums};
      while (std::optional<std::string> rel = paths.recv(g.context())) {
        if (*rel == fail_on) throw std::runtime_error(*rel + ": injected read failure");
        const std::string data = goro::blocking(g.context(), read_file, root / *rel, *rel);
        sums.send(g.context(), file_sum{*rel, fnv1a(data), data.size()});
      }
    });
  }

  std::map<std::string, file_sum> by_path;
  for (file_sum s : sums) by_path[s.path] = std::move(s);
  g.wait();  // the first failure, if any, is rethrown here
  return by_path;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [--workers N] [--fail-on RELATIVE_PATH]\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  int workers = 3;
  std::string fail_on;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--workers") == 0) workers = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--fail-on") == 0) fail_on = argv[i + 1];
  }

  try {
    const auto sums = checksum_all(root, workers, "");
    std::uintmax_t total = 0;
    for (const auto& [path, s] : sums) {
      std::printf("%016" PRIx64 " %5ju  %s\n", s.sum, s.bytes, path.c_str());
      total += s.bytes;
    }
    std::printf("%zu files, %ju bytes, %d workers\n", sums.size(), total, workers);
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }

  if (!fail_on.empty()) {
    std::printf("again, with reading %s failing:\n", fail_on.c_str());
    try {
      checksum_all(root, workers, fail_on);
      std::printf("no error?\n");
      return 1;
    } catch (const std::exception& e) {
      // The injected failure, not the context_error the others stopped with.
      std::printf("error: %s\n", e.what());
    }
  }
  return 0;
}
