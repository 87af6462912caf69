#pragma once

#include "registry/config.hpp"
#include "registry/prompt.hpp"
#include "reply/reply.hpp"
#include "util/error.hpp"
#include "util/yaml_json.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace promptops::golden {

// One line of a suite's .jsonl file.
struct Case {
  std::string id;
  nlohmann::json vars;       // an object
  nlohmann::json expected;   // null when absent
  nlohmann::json tags;       // an array
  nlohmann::json evaluators; // an array: run in addition to the suite's
  std::size_t line = 0;      // 1-based line in the file
};

// A prompt and a provider the suite runs its cases against.
struct Candidate {
  registry::PromptRef prompt;
  std::string provider;
  SourcePosition position;
};

// golden/<name>.yaml.
struct Suite {
  std::string name; // path under golden/ without ".yaml"
  std::string path; // relative to the registry root
  std::string display_path;
  std::string cases_path; // relative to the registry root
  SourcePosition cases_position;
  std::vector<Candidate> candidates;
  nlohmann::json evaluators; // an array, as written
  reply::Allowances allow;   // `allow:` what the trust rule would fail, accepted suite-wide
  registry::Gate gate;
  util::SourceMap source_map;
};

// Parse a suite. Candidates come from `candidates:`, or from `prompt:` x `providers:` (the
// prompt's own provider, then "default", when `providers:` is absent). Throws InputError(s)
// for schema problems and for providers `config` does not define (with "did you mean").
Suite parse_suite(std::string_view name, std::string_view text, const std::string& path,
                  const std::string& display_path, const registry::Config& config);

// Parse a .jsonl file of cases: one JSON object a line, blank lines ignored. Returns every
// problem (bad JSON, schema violations, duplicate ids) with its line; throws nothing for bad
// lines so that validate can report all of them.
struct CaseFile {
  std::vector<Case> cases;
  std::vector<InputError> errors;
};
CaseFile parse_cases(std::string_view text, const std::string& display_path);

// The names of the suites in golden/ (baselines/ excluded), from their paths.
std::vector<std::string> suite_names_from_paths(const std::vector<std::string>& paths);

} // namespace promptops::golden
