// Runs the JSON-Schema-Test-Suite against promptops::jsonschema and prints, per draft, how
// many tests pass.
//
//   jsonschema_conformance SUITE_DIR [--optional] [--failures] [--draft NAME]
//
// SUITE_DIR holds tests/<draft>/*.json and remotes/ (served as http://localhost:1234/).
// --optional also runs tests/<draft>/optional (format tests with format assertion on),
// --failures lists every failing test, --draft runs one draft ("draft7", "draft2020-12").
// Exit status 0 when every required test passes.
#include "jsonschema/validator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using promptops::jsonschema::CompileOptions;
using promptops::jsonschema::Draft;
using promptops::jsonschema::SchemaError;
using promptops::jsonschema::Validator;

struct Tally {
  std::size_t passed = 0;
  std::size_t total = 0;
  std::vector<std::string> failures;
};

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  return json::parse(in);
}

std::vector<fs::path> json_files(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::is_directory(folder)) {
    return files;
  }
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

void run_file(const fs::path& file, const CompileOptions& options, Tally& tally) {
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
      ++tally.total;
      const bool expected = test.at("valid").get<bool>();
      const std::string name = where + " / " + test.at("description").get<std::string>();
      if (!validator) {
        tally.failures.push_back(name);
        tally.failures.back().append(" (schema error: ").append(compile_error).append(")");
        continue;
      }
      const bool fast = validator->is_valid(test.at("data"));
      const bool full = validator->validate(test.at("data")).empty();
      if (fast == expected && full == expected) {
        ++tally.passed;
      } else {
        tally.failures.push_back(name + " (expected " + (expected ? "valid" : "invalid") +
                                 ", is_valid " + (fast ? "true" : "false") + ", validate " +
                                 (full ? "valid" : "invalid") + ")");
      }
    }
  }
}

void print(const std::string& label, const Tally& tally, bool list_failures) {
  std::cout << label << ": " << tally.passed << "/" << tally.total << " passed";
  if (tally.total > 0) {
    std::cout << " ("
              << (100.0 * static_cast<double>(tally.passed) / static_cast<double>(tally.total))
              << "%)";
  }
  std::cout << "\n";
  if (list_failures) {
    for (const auto& failure : tally.failures) {
      std::cout << "  FAIL " << failure << "\n";
    }
  }
}

int run(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help") {
    std::cerr << "usage: jsonschema_conformance SUITE_DIR [--optional] [--failures] "
                 "[--draft draft7|draft2020-12]\n";
    return 2;
  }
  const fs::path suite = args[0];
  bool optional = false;
  bool list_failures = false;
  std::vector<std::string> drafts{"draft7", "draft2020-12"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--optional") {
      optional = true;
    } else if (args[i] == "--failures") {
      list_failures = true;
    } else if (args[i] == "--draft" && i + 1 < args.size()) {
      drafts = {args[++i]};
    } else {
      std::cerr << "jsonschema_conformance: unknown option \"" << args[i] << "\"\n";
      return 2;
    }
  }
  if (!fs::is_directory(suite / "tests")) {
    std::cerr << "jsonschema_conformance: " << suite << " has no tests/ folder\n";
    return 2;
  }
  const fs::path remotes = suite / "remotes";
  const auto loader = [remotes](const std::string& uri) -> std::optional<json> {
    const std::string prefix = "http://localhost:1234/";
    if (uri.rfind(prefix, 0) != 0) {
      return std::nullopt;
    }
    const fs::path path = remotes / uri.substr(prefix.size());
    if (!fs::is_regular_file(path)) {
      return std::nullopt;
    }
    return read_json(path);
  };

  bool all_required_pass = true;
  for (const auto& draft : drafts) {
    const fs::path folder = suite / "tests" / draft;
    if (!fs::is_directory(folder)) {
      std::cout << draft << ": not in this suite\n";
      continue;
    }
    CompileOptions options;
    options.default_draft = draft == "draft7" ? Draft::draft7 : Draft::draft2020_12;
    options.loader = loader;
    Tally required;
    for (const auto& file : json_files(folder)) {
      run_file(file, options, required);
    }
    print(draft + " required", required, list_failures);
    all_required_pass = all_required_pass && required.passed == required.total;
    if (optional) {
      Tally extra;
      for (const auto& file : json_files(folder / "optional")) {
        run_file(file, options, extra);
      }
      print(draft + " optional", extra, list_failures);
      CompileOptions format_options = options;
      format_options.format_assertion = true;
      Tally formats;
      for (const auto& file : json_files(folder / "optional" / "format")) {
        run_file(file, format_options, formats);
      }
      print(draft + " optional/format", formats, list_failures);
    }
  }
  return all_required_pass ? 0 : 1;
}

} // namespace

int main(int argc, char* argv[]) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "jsonschema_conformance: " << e.what() << "\n";
    return 2;
  }
}
