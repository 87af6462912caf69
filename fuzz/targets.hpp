#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

// The fuzz targets' bodies, shared by the libFuzzer executables (fuzz/fuzz_<name>.cpp) and the
// replay test (tests/unit/test_fuzz_regressions.cpp). Each feeds one input to one parser or
// engine; the project's documented errors are normal outcomes, anything else escapes (an
// unexpected exception) or aborts (a broken invariant) and is a finding.
namespace promptops::fuzz {

void fuzz_mustache(const std::uint8_t* data, std::size_t size);
void fuzz_config(const std::uint8_t* data, std::size_t size);
void fuzz_prompt(const std::uint8_t* data, std::size_t size);
void fuzz_suite(const std::uint8_t* data, std::size_t size);
void fuzz_cases(const std::uint8_t* data, std::size_t size);
void fuzz_results(const std::uint8_t* data, std::size_t size);
void fuzz_openai(const std::uint8_t* data, std::size_t size);
void fuzz_anthropic(const std::uint8_t* data, std::size_t size);
void fuzz_judge(const std::uint8_t* data, std::size_t size);
void fuzz_jsonschema(const std::uint8_t* data, std::size_t size);
void fuzz_fingerprint(const std::uint8_t* data, std::size_t size);

struct Target {
  std::string_view name; // the folder under fuzz/corpus/ and fuzz/regressions/
  void (*run)(const std::uint8_t* data, std::size_t size);
};

// Every target, in the order scripts/fuzz runs them.
const std::vector<Target>& all_targets();

} // namespace promptops::fuzz
