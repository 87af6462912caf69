#pragma once

#include "registry/registry.hpp"
#include "registry/source.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace promptops::registry {

// The "format" of a bundle: bump it when the shape changes in a way readers must know.
constexpr const char* k_bundle_format = "promptops-bundle/1";

// One prompt as a bundle holds it, keys in this order: {"version", "kind" ("chat"|"text"),
// "provider", "model" (null when the prompt names none), "params" (the prompt's own),
// "input": {"required", "optional"}, "messages": [{"role", "content"}] or "template" (the raw
// Mustache templates, not rendered), "escape" ("none"|"html"), "partials": {name: text},
// "output_schema" (the schema's JSON, or null), "tools" (tools_to_json, only when the prompt
// declares some)}. It holds only what the version id covers
// (nothing from promptops.yaml), so one version always exports the same entry.
nlohmann::ordered_json export_prompt(const ResolvedPrompt& prompt);

// The tip of an environment's branch, read once: its tree and its commit id (hex).
struct EnvironmentTip {
  std::shared_ptr<const Source> source;
  std::string commit;
};

// Read the tip of environment `env`'s branch now. Throws the InputError that
// Registry::source_for gives for an environment not in promptops.yaml or with nothing
// promoted yet, and InputError for "HEAD" or "" (references, not environments).
EnvironmentTip environment_tip(const Registry& registry, const std::string& env);

// Every prompt pinned in `tip` (of environment `env`): {"format", "environment", "commit",
// "prompts": {name: export_prompt(...)}}, names sorted. Throws InputError for a pinned prompt
// that does not load.
nlohmann::ordered_json export_environment(const Registry& registry, const std::string& env,
                                          const EnvironmentTip& tip);

// The same for the tip of `env`'s branch as it is now; throws as environment_tip does.
nlohmann::ordered_json export_environment(const Registry& registry, const std::string& env);

} // namespace promptops::registry
