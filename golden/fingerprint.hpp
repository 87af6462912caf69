#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>

// The format fingerprint of one output: its form, not its content. Drift detection
// (golden/drift.hpp) compares the fingerprints of a baseline's outputs with a run's. The
// features and their values are documented in docs/drift.md.
namespace promptops::golden {

// Bumped whenever a feature is added, removed or computed differently: a stored fingerprint of
// another version is not compared but recomputed from its output.
inline constexpr int k_fingerprint_version = 1;

// A set of named features. A categorical feature has a short value ("object", "fenced:json",
// "snake_case"); a numeric one a number (length in characters, line count). A feature that
// does not apply to the output (the key case of an output without JSON) is absent.
struct Fingerprint {
  std::map<std::string, std::string, std::less<>> categorical;
  std::map<std::string, double, std::less<>> numeric;
  // Short, printable excerpts that show what a feature found (the text before the JSON, the
  // answer tag): used in drift messages, never compared.
  std::map<std::string, std::string, std::less<>> excerpts;

  // The value of categorical feature `name`, or std::nullopt when it does not apply.
  std::optional<std::string_view> category(std::string_view name) const;
  // The value of numeric feature `name`, or std::nullopt when it does not apply.
  std::optional<double> number(std::string_view name) const;

  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// The fingerprint of `output`. Never throws on any input (huge, binary, invalid UTF-8) and
// takes time linear in its size.
Fingerprint fingerprint(std::string_view output);

// `fp` as a compact JSON object with sorted keys, stored in result lines as "fingerprint":
// {"v":1,"code_fence":"none",...,"length":42,"lines":1,"excerpts":{...}}. Every string in it is
// valid UTF-8.
nlohmann::json to_json(const Fingerprint& fp);

// A fingerprint read back from to_json()'s form, or std::nullopt when `value` is not one of the
// current version (the caller then recomputes it from the output). Strings are made printable
// again, since a stored file may have been edited.
std::optional<Fingerprint> fingerprint_from_json(const nlohmann::json& value);
std::optional<Fingerprint> fingerprint_from_json(const nlohmann::ordered_json& value);

} // namespace promptops::golden
