#pragma once

#include "util/error.hpp"
#include "util/yaml_json.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::registry {

// What a run must achieve to pass; unset fields fall back to the config's gate, then to the
// defaults (every case passes, no regression, drift reported but not gated, sensitivity
// "default").
struct Gate {
  std::optional<double> min_pass_rate;
  std::optional<long long> max_regressions;
  // The kinds of drift that fail the gate (drift_kinds).
  std::optional<std::vector<std::string>> fail_on_drift;
  // low | default | high (golden::parse_drift_sensitivity reads it).
  std::optional<std::string> drift_sensitivity;
};

// The kinds of drift, in the order they are reported and gated.
inline constexpr const char* k_drift_kinds[] = {"format", "tokens", "cost", "latency"};

// fail_on_drift as promptops.yaml, a suite or summary.json's suite gate give it: true is
// {"format"} (what it meant before the other kinds), a list keeps its kinds in
// k_drift_kinds's order (unknown ones dropped), false or anything else is {}.
std::vector<std::string> drift_kinds(const nlohmann::json& fail_on_drift);

// Read a gate object already checked against gate.schema.json.
Gate gate_from_json(const nlohmann::json& value);

// One entry of promptops.yaml's `providers:`.
struct ProviderConfig {
  std::string name;
  std::string type;        // openai | anthropic | exec | replay | echo
  std::string model;       // may be empty (echo, exec)
  nlohmann::json params;   // an object
  nlohmann::json settings; // the whole entry as written
  SourcePosition position; // where the entry starts
};

// promptops.yaml.
struct Config {
  std::string display_path;
  std::vector<std::string> environments;
  std::vector<std::string> protected_environments;
  std::map<std::string, ProviderConfig> providers;
  Gate gate;
  util::SourceMap source_map;

  std::vector<std::string> provider_names() const;
  // The provider called `name`, or nullptr.
  const ProviderConfig* find_provider(std::string_view name) const;
};

// Parse promptops.yaml. Throws InputError (or InputErrors) naming the line of every problem.
Config parse_config(std::string_view text, const std::string& display_path);

} // namespace promptops::registry
