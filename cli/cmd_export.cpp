#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/export.hpp"
#include "registry/registry.hpp"
#include "util/file.hpp"

#include <nlohmann/json.hpp>

namespace promptops::cli {

Action add_export(CLI::App& app) {
  struct Options {
    std::string env;
    std::string output;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "export", "Write one JSON bundle of every prompt pinned in an environment, for applications");
  cmd->add_option("--env", options->env, "Environment to export (e.g. prod)")
      ->type_name("ENV")
      ->required();
  cmd->add_option("-o,--output", options->output,
                  "Write the bundle to FILE (atomically) instead of standard output (\"-\")")
      ->type_name("FILE");
  return [options] {
    const auto registry = registry::Registry::open(".");
    const auto tip = registry::environment_tip(registry, options->env);
    const auto bundle = registry::export_environment(registry, options->env, tip);
    for (const auto& warning : registry::invalid_prompt_files(*tip.source)) {
      print_note("promptops: warning: " + warning + "\n");
    }
    const std::string text =
        bundle.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    if (options->output.empty() || options->output == "-") {
      print(text);
    } else {
      util::write_file_atomic(options->output, text);
    }
    return 0;
  };
}

} // namespace promptops::cli
