#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/registry.hpp"

#include <nlohmann/json.hpp>

namespace promptops::cli {

namespace {
std::string names(const std::vector<registry::Variable>& vars) {
  std::string out;
  for (const auto& v : vars) {
    out += (out.empty() ? "" : ", ") + v.name;
  }
  return out.empty() ? "-" : out;
}
} // namespace

Action add_show(CLI::App& app) {
  struct Options {
    std::string prompt;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("show", "Show a prompt: version, provider, variables, templates");
  cmd->add_option("NAME", options->prompt, "Prompt to show: NAME or NAME@HEAD")->required();
  cmd->add_flag("--json", options->json, "Print JSON");
  return [options] {
    const auto ref = registry::parse_prompt_ref(options->prompt);
    const auto registry = registry::Registry::open(".");
    const auto r = registry.resolve(ref);
    const auto& p = r.prompt;
    std::vector<std::string> partials;
    for (const auto& [name, _] : r.partials) {
      partials.push_back(name);
    }
    if (options->json) {
      nlohmann::json j;
      j["name"] = p.name;
      j["ref"] = r.ref.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.ref);
      j["version"] = r.version;
      j["path"] = p.path;
      j["kind"] = p.kind == registry::PromptKind::chat ? "chat" : "text";
      j["description"] = p.description;
      j["provider"] = p.provider.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.provider);
      j["model"] = p.model.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.model);
      j["params"] = p.params;
      nlohmann::json required = nlohmann::json::array(), optional = nlohmann::json::array();
      for (const auto& v : p.required) {
        required.push_back(v.name);
      }
      for (const auto& v : p.optional) {
        optional.push_back(v.name);
      }
      j["input"] = {{"required", required}, {"optional", optional}};
      j["variables"] = p.template_variables();
      j["partials"] = partials;
      j["output_schema"] =
          p.output_schema.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.output_schema);
      if (p.kind == registry::PromptKind::chat) {
        nlohmann::json messages = nlohmann::json::array();
        for (const auto& m : p.messages) {
          messages.push_back({{"role", m.role}, {"content", m.content}});
        }
        j["messages"] = messages;
      } else {
        j["template"] = p.text_source;
      }
      print(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
      return 0;
    }
    std::string out;
    out += "prompt:        " + p.name + (r.ref.empty() ? "" : "@" + r.ref) + "\n";
    out += "version:       " + r.short_version() + "\n";
    out += "file:          " + p.display_path + "\n";
    if (!p.description.empty()) {
      out += "description:   " + p.description + "\n";
    }
    out += std::string("kind:          ") +
           (p.kind == registry::PromptKind::chat ? "chat" : "text") + "\n";
    out += "provider:      " + (p.provider.empty() ? std::string("-") : p.provider) + "\n";
    if (!p.model.empty()) {
      out += "model:         " + p.model + "\n";
    }
    if (!p.params.empty()) {
      out += "params:        " + p.params.dump() + "\n";
    }
    out += "required:      " + names(p.required) + "\n";
    out += "optional:      " + names(p.optional) + "\n";
    std::string used;
    for (const auto& v : p.template_variables()) {
      used += (used.empty() ? "" : ", ") + v;
    }
    out += "uses:          " + (used.empty() ? std::string("-") : used) + "\n";
    std::string partial_list;
    for (const auto& n : partials) {
      partial_list += (partial_list.empty() ? "" : ", ") + n;
    }
    out += "partials:      " + (partial_list.empty() ? std::string("-") : partial_list) + "\n";
    out +=
        "output schema: " + (p.output_schema.empty() ? std::string("-") : p.output_schema) + "\n";
    if (p.kind == registry::PromptKind::chat) {
      for (const auto& m : p.messages) {
        out += "\n[" + m.role + "]\n" + m.content;
        if (!m.content.empty() && m.content.back() != '\n') {
          out += '\n';
        }
      }
    } else {
      out += "\n" + p.text_source;
      if (!p.text_source.empty() && p.text_source.back() != '\n') {
        out += '\n';
      }
    }
    print(out);
    return 0;
  };
}

} // namespace promptops::cli
