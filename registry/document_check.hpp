#pragma once

#include "util/error.hpp"
#include "util/yaml_json.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace promptops::registry {

// Check `value` against one of promptops's own schemas ("prompt.schema.json", ...) and return
// every problem as an InputError at the line and column `source_map` gives: unknown keys with
// a "did you mean", wrong types, missing keys, values outside an enum.
std::vector<InputError> check_document(const nlohmann::json& value,
                                       const util::SourceMap& source_map,
                                       std::string_view schema_file,
                                       const std::string& display_path);

// The builtin schema `schema_file` as JSON. Throws Error if there is no such schema.
const nlohmann::json& builtin_schema_json(std::string_view schema_file);

} // namespace promptops::registry
