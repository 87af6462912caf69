#pragma once

#include "util/error.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <unordered_map>

namespace promptops::util {

// Where each part of a parsed document came from, keyed by JSON Pointer: the position of each
// value and, for object members, of the key. Lets errors found on the JSON form name the line
// and column of the YAML text.
class SourceMap {
public:
  void set_value(const std::string& pointer, SourcePosition position);
  void set_key(const std::string& pointer, SourcePosition position);

  // The position of the value at `pointer`, or of its nearest ancestor that has one.
  SourcePosition value_position(std::string_view pointer) const;
  // The position of the key naming the member at `pointer`, else as value_position().
  SourcePosition key_position(std::string_view pointer) const;

private:
  std::unordered_map<std::string, SourcePosition> m_values;
  std::unordered_map<std::string, SourcePosition> m_keys;
};

struct ParsedDocument {
  nlohmann::json value;
  SourceMap source_map;
};

struct YamlLimits {
  std::size_t max_nodes = 1'000'000; // aliases may expand a small text into a huge document
  std::size_t max_depth = 256;
};

// Parse YAML `text` into JSON with YAML 1.2 core-schema scalars (plain true/false/null/numbers
// are typed; quoted scalars stay strings). Throws InputError("display_path:line:col: ...")
// on a syntax error, a duplicate key, a non-string key or a document over `limits`.
ParsedDocument parse_yaml(std::string_view text, const std::string& display_path,
                          const YamlLimits& limits = {});

// Parse JSON `text`. Throws InputError naming the line and column of a syntax error.
nlohmann::json parse_json(std::string_view text, const std::string& display_path);

// Line and column (1-based) of byte `offset` in `text`.
SourcePosition position_of_offset(std::string_view text, std::size_t offset);

} // namespace promptops::util
