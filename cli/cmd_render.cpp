#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/vars.hpp"
#include "registry/registry.hpp"
#include "registry/render.hpp"

namespace promptops::cli {

Action add_render(CLI::App& app) {
  struct Options {
    std::string prompt;
    std::vector<std::string> vars;
    std::string vars_file;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("render", "Print a prompt rendered exactly as it is sent");
  cmd->add_option("NAME", options->prompt, "Prompt to render: NAME or NAME@HEAD")->required();
  cmd->add_option("--var", options->vars, "Set a variable (NAME=VALUE; a.b=VALUE nests)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--vars-file", options->vars_file, "Read variables from a JSON or YAML file")
      ->type_name("FILE");
  cmd->add_flag("--json", options->json,
                "Print {name, version, provider, model, params, messages|text, tools}");
  return [options] {
    const auto ref = registry::parse_prompt_ref(options->prompt);
    const nlohmann::json vars = build_vars(options->vars_file, options->vars);
    const auto registry = registry::Registry::open(".");
    const auto resolved = registry.resolve(ref);
    const auto rendered = registry::render_prompt(resolved, registry.config(), vars);
    if (options->json) {
      print(registry::to_json(rendered).dump(2, ' ', false,
                                             nlohmann::ordered_json::error_handler_t::replace) +
            "\n");
    } else if (rendered.kind == registry::PromptKind::text) {
      print(rendered.text); // exactly the text, nothing added
    } else {
      std::string out;
      for (std::size_t i = 0; i < rendered.messages.size(); ++i) {
        const auto& m = rendered.messages[i];
        out += (i == 0 ? "[" : "\n[") + m.role + "]\n" + m.content;
        if (!m.content.empty() && m.content.back() != '\n') {
          out += '\n';
        }
      }
      print(out);
    }
    return 0;
  };
}

} // namespace promptops::cli
