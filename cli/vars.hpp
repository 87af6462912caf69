#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace promptops::cli {

// Build template variables from --vars-file (JSON, or YAML when it ends in .yaml/.yml) and
// --var NAME=VALUE flags, which win. A dotted NAME sets a nested value: customer.name=Ada
// gives {"customer": {"name": "Ada"}}. Values from --var are strings. Throws UsageError for a
// flag without '=', InputError (file:line:col) for a bad file.
nlohmann::json build_vars(const std::string& vars_file, const std::vector<std::string>& flags);

} // namespace promptops::cli
