#pragma once

#include "registry/registry.hpp"
#include "util/error.hpp"

#include <cstddef>
#include <vector>

namespace promptops::golden {

// What validate looked at, and every problem it found.
struct ValidationReport {
  std::size_t prompts = 0;
  std::size_t partials = 0;
  std::size_t schemas = 0;
  std::size_t suites = 0;
  std::size_t cases = 0;
  std::vector<InputError> errors;
};

// Check every file of the registry, each against its schema, and what refers to what: a
// prompt's provider, partials and output schema exist; required variables are used by its
// templates; every template and partial parses; every schema in schemas/ is a valid JSON
// Schema; a suite's prompt, providers, evaluators and cases exist and fit together; each
// case gives the prompt's required variables. Never throws for bad input: it reports.
ValidationReport validate_registry(const registry::Registry& registry);

} // namespace promptops::golden
