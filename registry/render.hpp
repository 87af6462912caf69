#pragma once

#include "registry/config.hpp"
#include "registry/registry.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace promptops::registry {

struct RenderedMessage {
  std::string role;
  std::string content;
};

// A prompt as an application sends it.
struct RenderedPrompt {
  std::string name;
  std::string version;   // full id
  std::string provider;  // may be empty: no provider named anywhere
  std::string model;     // may be empty
  nlohmann::json params; // the provider's params overridden by the prompt's
  PromptKind kind = PromptKind::chat;
  std::vector<RenderedMessage> messages; // chat prompts
  std::string text;                      // text prompts
  // The prompt's tools (Prompt::tools), sent with the messages; null: none.
  std::shared_ptr<const nlohmann::json> tools;
};

// Render `prompt` with `vars`. `context` names the caller in messages (e.g. "case
// \"refund-1\" in golden/classify.jsonl:3"), empty for the command line. Throws InputError
// for a missing required variable (naming prompt, variable and context) and for a partial
// that fails.
RenderedPrompt render_prompt(const ResolvedPrompt& prompt, const Config& config,
                             const nlohmann::json& vars, const std::string& context = {});

// {"name", "version", "provider", "model", "params", "messages"|"text", "tools"}, keys in that
// order; "tools" (tools_to_json) only when the prompt declares some.
nlohmann::ordered_json to_json(const RenderedPrompt& rendered);

} // namespace promptops::registry
