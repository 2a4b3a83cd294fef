// A main() for the fuzz target in builds without libFuzzer: runs each file
// named on the command line (or each file of each directory named) once through
// LLVMFuzzerTestOneInput, so every configuration replays the seed corpus and
// any crash input added to it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
int replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.string().c_str());
    return 1;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  int failed = 0;
  int ran = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) {
          failed += replay(entry.path());
          ++ran;
        }
    } else {
      failed += replay(arg);
      ++ran;
    }
  }
  std::printf("replayed %d input(s)\n", ran);
  return failed == 0 && ran > 0 ? 0 : 1;
}
