#include "registry/config.hpp"

#include "registry/document_check.hpp"
#include "util/json_pointer.hpp"
#include "util/suggest.hpp"

namespace promptops::registry {

Gate gate_from_json(const nlohmann::json& value) {
  Gate gate;
  if (!value.is_object()) {
    return gate;
  }
  if (auto it = value.find("min_pass_rate"); it != value.end()) {
    gate.min_pass_rate = it->get<double>();
  }
  if (auto it = value.find("max_regressions"); it != value.end()) {
    gate.max_regressions = it->get<long long>();
  }
  if (auto it = value.find("fail_on_drift"); it != value.end()) {
    gate.fail_on_drift = drift_kinds(*it);
  }
  if (auto it = value.find("drift_sensitivity"); it != value.end() && it->is_string()) {
    gate.drift_sensitivity = it->get<std::string>();
  }
  return gate;
}

std::vector<std::string> drift_kinds(const nlohmann::json& fail_on_drift) {
  if (fail_on_drift.is_boolean()) {
    return fail_on_drift.get<bool>() ? std::vector<std::string>{"format"}
                                     : std::vector<std::string>{};
  }
  std::vector<std::string> kinds;
  if (!fail_on_drift.is_array()) {
    return kinds;
  }
  for (const char* kind : k_drift_kinds) {
    for (const auto& listed : fail_on_drift) {
      if (listed.is_string() && listed.get<std::string>() == kind) {
        kinds.emplace_back(kind);
        break;
      }
    }
  }
  return kinds;
}

std::vector<std::string> Config::provider_names() const {
  std::vector<std::string> names;
  for (const auto& [name, _] : providers) {
    names.push_back(name);
  }
  return names;
}

const ProviderConfig* Config::find_provider(std::string_view name) const {
  auto it = providers.find(std::string(name));
  return it == providers.end() ? nullptr : &it->second;
}

Config parse_config(std::string_view text, const std::string& display_path) {
  util::ParsedDocument doc = util::parse_yaml(text, display_path);
  if (doc.value.is_null()) {
    throw InputError(display_path, {1, 1},
                     "empty configuration: at least \"version: 1\" is needed");
  }
  throw_if_any(check_document(doc.value, doc.source_map, "promptops.schema.json", display_path));

  Config config;
  config.display_path = display_path;
  const nlohmann::json& v = doc.value;
  if (auto it = v.find("environments"); it != v.end()) {
    config.environments = it->get<std::vector<std::string>>();
  }
  if (auto it = v.find("protected"); it != v.end()) {
    config.protected_environments = it->get<std::vector<std::string>>();
  }
  if (auto it = v.find("gate"); it != v.end()) {
    config.gate = gate_from_json(*it);
  }

  std::vector<InputError> errors;
  for (std::size_t i = 0; i < config.protected_environments.size(); ++i) {
    const std::string& env = config.protected_environments[i];
    bool known = false;
    for (const auto& e : config.environments) {
      known = known || e == env;
    }
    if (!known) {
      errors.emplace_back(display_path,
                          doc.source_map.value_position(util::pointer_append("/protected", i)),
                          "protected environment \"" + env + "\" is not listed in environments" +
                              util::did_you_mean(env, config.environments));
    }
  }
  if (auto it = v.find("providers"); it != v.end()) {
    for (const auto& [name, entry] : it->items()) {
      const std::string pointer = util::pointer_append("/providers", name);
      ProviderConfig p;
      p.name = name;
      p.type = entry.at("type").get<std::string>();
      p.model = entry.value("model", "");
      p.params = entry.value("params", nlohmann::json::object());
      p.settings = entry;
      p.position = doc.source_map.key_position(pointer);
      // Checks that need more than one key, so the schema does not say them well.
      // Named captures: clang 14 (the fuzz build) cannot capture structured bindings.
      auto need = [&, &name = name, &entry = entry](const char* key, const char* why) {
        if (!entry.contains(key)) {
          errors.emplace_back(display_path, p.position,
                              "provider \"" + name + "\" of type \"" + p.type + "\" needs \"" +
                                  key + "\" (" + why + ")");
        }
      };
      if (p.type == "openai" || p.type == "anthropic") {
        need("model", "the model to call");
      } else if (p.type == "exec") {
        need("command", "the command that answers");
      } else if (p.type == "replay") {
        need("from", "the recorded results to answer from");
      }
      config.providers.emplace(name, std::move(p));
    }
  }
  config.source_map = std::move(doc.source_map);
  throw_if_any(std::move(errors));
  return config;
}

} // namespace promptops::registry
