#include "report/run_record.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/error.hpp"
#include "util/yaml_json.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"

// Every seed (fuzz/corpus/<target>/) and every input a fuzzer crashed on once
// (fuzz/regressions/<target>/) replayed through its target's body, without libFuzzer: a broken
// invariant aborts the test, an unexpected exception fails it.

namespace fs = std::filesystem;
using promptops::fuzz::all_targets;
using promptops::fuzz::Target;

namespace {

const fs::path k_fuzz_dir = fs::path(PROMPTOPS_SOURCE_DIR) / "fuzz";

std::vector<fs::path> inputs(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const Target& target(std::string_view name) {
  const auto& targets = all_targets();
  const auto it =
      std::find_if(targets.begin(), targets.end(), [&](const Target& t) { return t.name == name; });
  REQUIRE(it != targets.end());
  return *it;
}

// Runs every seed and regression input of `name`; returns how many there were.
std::size_t replay(std::string_view name) {
  const Target& t = target(name);
  std::size_t count = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const fs::path& file : inputs(k_fuzz_dir / kind / std::string(name))) {
      const std::string bytes = read_bytes(file);
      INFO(file.string());
      CHECK_NOTHROW(t.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      ++count;
    }
  }
  return count;
}

} // namespace

TEST_CASE("fuzz: every seed and regression folder names a target", "[fuzz]") {
  for (const char* kind : {"corpus", "regressions"}) {
    if (!fs::is_directory(k_fuzz_dir / kind)) {
      continue;
    }
    for (const fs::directory_entry& entry : fs::directory_iterator(k_fuzz_dir / kind)) {
      INFO(entry.path().string());
      const std::string name = entry.path().filename().string();
      CHECK(std::any_of(all_targets().begin(), all_targets().end(),
                        [&](const Target& t) { return t.name == name; }));
    }
  }
  for (const Target& t : all_targets()) {
    INFO(t.name);
    CHECK(inputs(k_fuzz_dir / "corpus" / std::string(t.name)).size() >= 3);
  }
}

TEST_CASE("fuzz: empty and tiny inputs", "[fuzz]") {
  const std::vector<std::string> tiny = {"", std::string(1, '\0'), "\n", "{", "{{", "\xff"};
  for (const Target& t : all_targets()) {
    for (const std::string& bytes : tiny) {
      INFO(t.name);
      CHECK_NOTHROW(t.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    }
  }
}

// The readers that the targets do not reach, on the number overflow the fuzzers found in
// parse_cases and read_verdict (nlohmann throws out_of_range, not parse_error, for 1e400).
TEST_CASE("fuzz: a number beyond a double is an input error", "[fuzz]") {
  CHECK_THROWS_AS(promptops::util::parse_json(R"({"a": 1e400})", "schemas/a.json"),
                  promptops::InputError);
  const promptops::test::TempDir dir;
  dir.write("run/summary.json", R"({"run_id": 1e400})");
  dir.write("run/results.jsonl", "");
  CHECK_THROWS_AS(promptops::report::load_run(dir.path() / "run"), promptops::InputError);
}

// One test a target, so that ctest names the one that fails.
#define PROMPTOPS_REPLAY_TEST(name)                                                                \
  TEST_CASE("fuzz: replay " #name, "[fuzz]") {                                                     \
    CHECK(replay(#name) > 0);                                                                      \
  }

PROMPTOPS_REPLAY_TEST(mustache)
PROMPTOPS_REPLAY_TEST(config)
PROMPTOPS_REPLAY_TEST(prompt)
PROMPTOPS_REPLAY_TEST(suite)
PROMPTOPS_REPLAY_TEST(cases)
PROMPTOPS_REPLAY_TEST(results)
PROMPTOPS_REPLAY_TEST(openai)
PROMPTOPS_REPLAY_TEST(anthropic)
PROMPTOPS_REPLAY_TEST(judge)
PROMPTOPS_REPLAY_TEST(jsonschema)
PROMPTOPS_REPLAY_TEST(fingerprint)
