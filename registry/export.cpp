#include "registry/export.hpp"

#include "registry/git.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"

#include <algorithm>

namespace promptops::registry {

namespace {

using ordered = nlohmann::ordered_json;

// nlohmann::json keeps object keys sorted; going through text keeps that order and replaces
// bytes that are not UTF-8 instead of throwing on them later.
ordered to_ordered(const nlohmann::json& value) {
  return ordered::parse(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ordered variable_names(const std::vector<Variable>& variables) {
  ordered names = ordered::array();
  for (const auto& v : variables) {
    names.push_back(v.name);
  }
  return names;
}

} // namespace

ordered export_prompt(const ResolvedPrompt& resolved) {
  const Prompt& p = resolved.prompt;
  ordered j = ordered::object();
  j["version"] = resolved.version;
  j["kind"] = p.kind == PromptKind::chat ? "chat" : "text";
  j["provider"] = p.provider.empty() ? ordered(nullptr) : ordered(p.provider);
  j["model"] = p.model.empty() ? ordered(nullptr) : ordered(p.model);
  j["params"] = p.params.is_object() ? to_ordered(p.params) : ordered::object();
  j["input"] = {{"required", variable_names(p.required)}, {"optional", variable_names(p.optional)}};
  if (p.kind == PromptKind::chat) {
    ordered messages = ordered::array();
    for (const auto& m : p.messages) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    j["messages"] = std::move(messages);
  } else {
    j["template"] = p.text_source;
  }
  // Most Mustache libraries HTML-escape {{x}} by default; promptops does not unless asked.
  j["escape"] = p.escape == mustache::Escape::html ? "html" : "none";
  ordered partials = ordered::object();
  for (const auto& [name, text] : resolved.partials) {
    partials[name] = text;
  }
  j["partials"] = std::move(partials);
  // resolve_prompt has checked that the schema parses; its author's key order is kept.
  j["output_schema"] =
      resolved.output_schema ? ordered::parse(*resolved.output_schema) : ordered(nullptr);
  if (p.tools) {
    j["tools"] = tools_to_json(*p.tools); // the one shape render --json shows too
  }
  return j;
}

EnvironmentTip environment_tip(const Registry& registry, const std::string& env) {
  const auto& envs = registry.config().environments;
  if (std::find(envs.begin(), envs.end(), env) == envs.end() && (env.empty() || env == "HEAD")) {
    // Registry::source_for takes these as references; they name no environment.
    throw InputError("\"" + env + "\" is not an environment" + util::did_you_mean(env, envs) +
                     ": use one of the environments of " + registry.config().display_path);
  }
  EnvironmentTip tip;
  tip.source = registry.source_for(env);
  const auto* tree = dynamic_cast<const git::TreeSource*>(tip.source.get());
  if (tree == nullptr || tree->commit() == nullptr) {
    throw RunError("environment \"" + env + "\" is not read from a git commit");
  }
  tip.commit = git::oid_hex(*git_commit_id(tree->commit()));
  return tip;
}

ordered export_environment(const Registry& registry, const std::string& env,
                           const EnvironmentTip& tip) {
  const Source& source = *tip.source;
  ordered prompts = ordered::object();
  // Every prompt from the one tree: a promotion that lands meanwhile cannot mix two states.
  for (const auto& name : registry.prompt_names(&source)) {
    const std::string path = prompt_path(name);
    const auto text = source.read(path);
    if (!text) {
      throw InputError(source.display(path), {}, "cannot read file");
    }
    Prompt prompt = parse_prompt(name, *text, path, source.display(path));
    prompts[name] = export_prompt(resolve_prompt(std::move(prompt), source, env));
  }
  ordered bundle = ordered::object();
  bundle["format"] = k_bundle_format;
  bundle["environment"] = env;
  bundle["commit"] = tip.commit;
  bundle["prompts"] = std::move(prompts);
  return bundle;
}

ordered export_environment(const Registry& registry, const std::string& env) {
  return export_environment(registry, env, environment_tip(registry, env));
}

} // namespace promptops::registry
