#include "jsonschema/validator.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using promptops::jsonschema::CompileOptions;
using promptops::jsonschema::Draft;
using promptops::jsonschema::SchemaError;
using promptops::jsonschema::Validator;

// Debian's json-schema-test-suite package; CI installs it.
const fs::path k_suite = "/usr/share/json-schema-test-suite";

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  return json::parse(in);
}

} // namespace

TEST_CASE("jsonschema::Validator, Debian JSON-Schema-Test-Suite draft-07 required tests",
          "[jsonschema][suite]") {
  const fs::path tests = k_suite / "tests" / "draft7";
  if (!fs::is_directory(tests)) {
    FAIL(tests.string() << " is missing: install the json-schema-test-suite package "
                           "(apt-get install json-schema-test-suite)");
  }
  CompileOptions options;
  options.default_draft = Draft::draft7;
  const fs::path remotes = k_suite / "remotes";
  options.loader = [&remotes](const std::string& uri) -> std::optional<json> {
    const std::string prefix = "http://localhost:1234/";
    if (uri.rfind(prefix, 0) != 0 || !fs::is_regular_file(remotes / uri.substr(prefix.size()))) {
      return std::nullopt;
    }
    return read_json(remotes / uri.substr(prefix.size()));
  };

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(tests)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());

  std::size_t total = 0;
  std::size_t passed = 0;
  std::vector<std::string> failures;
  for (const auto& file : files) {
    for (const auto& test_case : read_json(file)) {
      const std::string where =
          file.filename().string() + ": " + test_case.at("description").get<std::string>();
      std::optional<Validator> validator;
      std::string compile_error;
      try {
        validator.emplace(Validator::compile(test_case.at("schema"), options));
      } catch (const SchemaError& e) {
        compile_error = e.what();
      }
      for (const auto& test : test_case.at("tests")) {
        ++total;
        const std::string name = where + " / " + test.at("description").get<std::string>();
        if (!validator) {
          failures.push_back(name);
          failures.back().append(": ").append(compile_error);
          continue;
        }
        const bool expected = test.at("valid").get<bool>();
        const bool fast = validator->is_valid(test.at("data"));
        const bool full = validator->validate(test.at("data")).empty();
        if (fast == expected && full == expected) {
          ++passed;
        } else {
          failures.push_back(name + ": expected " + (expected ? "valid" : "invalid"));
        }
      }
    }
  }
  WARN("JSON-Schema-Test-Suite draft-07 (" << k_suite.string() << "): " << passed << "/" << total
                                           << " required tests pass");
  for (const auto& failure : failures) {
    UNSCOPED_INFO(failure);
  }
  CHECK(total >= 423);
  REQUIRE(passed == total);
}
