#include "registry/render.hpp"

#include "util/error.hpp"
#include "util/suggest.hpp"

namespace promptops::registry {

RenderedPrompt render_prompt(const ResolvedPrompt& resolved, const Config& config,
                             const nlohmann::json& vars, const std::string& context) {
  const Prompt& p = resolved.prompt;
  const std::string where = context.empty() ? "" : ", in " + context;
  if (!vars.is_object()) {
    throw InputError("variables for prompt \"" + p.name + "\" must be an object" + where);
  }
  // No template renders a silent empty string for a required input.
  for (const auto& required : p.required) {
    auto it = vars.find(required.name);
    if (it == vars.end() || it->is_null()) {
      throw InputError(p.display_path, required.position,
                       "missing required variable \"" + required.name + "\" for prompt \"" +
                           p.name + "\"" + where);
    }
  }

  RenderedPrompt out;
  out.name = p.name;
  out.version = resolved.version;
  out.kind = p.kind;
  out.provider = p.provider;
  if (out.provider.empty() && config.find_provider("default")) {
    out.provider = "default";
  }
  out.params = nlohmann::json::object();
  if (!p.provider.empty() && !config.find_provider(p.provider)) {
    throw InputError(p.display_path, p.provider_position,
                     "unknown provider \"" + p.provider + "\"" +
                         util::did_you_mean(p.provider, config.provider_names()) +
                         " (providers are defined in " + config.display_path + ")");
  }
  if (const ProviderConfig* provider = config.find_provider(out.provider)) {
    out.model = provider->model;
    if (provider->params.is_object()) {
      out.params.update(provider->params);
    }
  }
  if (!p.model.empty()) {
    out.model = p.model;
  }
  out.params.update(p.params);
  out.tools = p.tools;

  mustache::RenderOptions options;
  options.escape = p.escape;
  options.partials = [&resolved](const std::string& name) -> std::optional<std::string> {
    auto it = resolved.partials.find(name);
    if (it == resolved.partials.end()) {
      return std::nullopt;
    }
    return it->second;
  };
  try {
    if (p.kind == PromptKind::chat) {
      out.messages.reserve(p.messages.size());
      for (const auto& m : p.messages) {
        out.messages.push_back({m.role, m.compiled.render(vars, options)});
      }
    } else {
      out.text = p.text->render(vars, options);
    }
  } catch (const mustache::TemplateRenderError& e) {
    throw InputError(p.display_path, {}, std::string(e.what()) + where);
  }
  return out;
}

nlohmann::ordered_json to_json(const RenderedPrompt& r) {
  using ordered = nlohmann::ordered_json;
  ordered j = ordered::object();
  j["name"] = r.name;
  j["version"] = r.version;
  j["provider"] = r.provider.empty() ? ordered(nullptr) : ordered(r.provider);
  j["model"] = r.model.empty() ? ordered(nullptr) : ordered(r.model);
  j["params"] =
      ordered::parse(r.params.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (r.kind == PromptKind::chat) {
    ordered messages = ordered::array();
    for (const auto& m : r.messages) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    j["messages"] = std::move(messages);
  } else {
    j["text"] = r.text;
  }
  if (r.tools) {
    j["tools"] = tools_to_json(*r.tools);
  }
  return j;
}

} // namespace promptops::registry
