#pragma once

#include "mustache/template.hpp"
#include "util/error.hpp"
#include "util/yaml_json.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::registry {

// Throws InputError unless `name` is a valid prompt or partial name: '/'-separated segments
// of letters, digits, '_', '-' and '.', none of them "." or "..", so that a name can never
// leave prompts/. `what` is "prompt" or "partial" for the message.
void check_name(std::string_view name, std::string_view what);

// What is wrong with `name` as a prompt or partial name (the rule check_name applies), or
// std::nullopt when it is valid.
std::optional<std::string> name_problem(std::string_view name);

// "prompts/<name>.yaml".
std::string prompt_path(std::string_view name);
// "prompts/partials/<name>.mustache".
std::string partial_path(std::string_view name);

// A reference to a prompt as the user typed it: NAME or NAME@REF.
struct PromptRef {
  std::string name;
  std::string ref; // "" = the work tree
};

// Split and check "NAME[@REF]". Throws InputError for a bad name or an empty ref.
PromptRef parse_prompt_ref(std::string_view text);

enum class PromptKind { chat, text };

struct Message {
  std::string role;
  std::string content;
  mustache::Template compiled;
};

struct Variable {
  std::string name;
  SourcePosition position; // where the file declares it
};

// One prompt file, parsed and checked: its templates compile.
struct Prompt {
  std::string name;
  std::string path;         // relative to the registry root
  std::string display_path; // as shown in messages
  std::string file_content; // the bytes of the file, for the version id
  std::string description;
  std::string provider;  // may be empty
  std::string model;     // may be empty
  nlohmann::json params; // an object
  PromptKind kind = PromptKind::chat;
  std::vector<Message> messages;          // chat prompts
  std::optional<mustache::Template> text; // text prompts
  std::string text_source;
  std::vector<Variable> required;
  std::vector<Variable> optional;
  std::string output_schema; // may be empty
  SourcePosition output_schema_position;
  // `tools:` as declared, [{"name", "description", "parameters": JSON Schema}]; null: none.
  // "description" is there only when the file gives one; "parameters" always (default
  // {"type": "object", "properties": {}}). Shared by every request of the prompt.
  std::shared_ptr<const nlohmann::json> tools;
  SourcePosition provider_position;
  mustache::Escape escape = mustache::Escape::none;
  nlohmann::json tags;
  nlohmann::json metadata;

  // Every variable the templates look up, in order of first use (partials not included).
  std::vector<std::string> template_variables() const;
  // Every partial the templates include directly.
  std::vector<std::string> template_partials() const;
};

// `tools` (Prompt::tools, not null) as promptops shows them in render --json, export bundles
// and serve: [{"name", "description" (only when declared), "parameters"}], keys in that order.
nlohmann::ordered_json tools_to_json(const nlohmann::json& tools);

// Parse prompt `name` from `text`. Throws InputError(s) naming the line of every problem:
// schema violations, neither or both of messages/template, a template that does not parse.
Prompt parse_prompt(std::string_view name, std::string_view text, const std::string& path,
                    const std::string& display_path);

} // namespace promptops::registry
