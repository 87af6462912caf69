#pragma once

#include "jsonschema/validator.hpp"
#include "registry/registry.hpp"

#include <string>

namespace promptops::golden {

// How a registry's schema file `path` (relative to the root) compiles: its base URI is the
// file's, and "$ref"s to other files resolve inside the registry's work tree (schemas/...).
jsonschema::CompileOptions registry_schema_options(const registry::Registry& registry,
                                                   const std::string& path);

} // namespace promptops::golden
