#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/prompt_diff.hpp"
#include "registry/registry.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

namespace promptops::cli {

namespace {

// --color auto: colour only for a terminal, and never when NO_COLOR is set (no-color.org).
registry::Color resolve_color(const std::string& mode) {
  if (mode == "always") {
    return registry::Color::yes;
  }
  if (mode == "never") {
    return registry::Color::no;
  }
  const char* no_color = std::getenv("NO_COLOR");
  const bool wanted = no_color == nullptr || *no_color == '\0';
  return wanted && isatty(STDOUT_FILENO) != 0 ? registry::Color::yes : registry::Color::no;
}

} // namespace

Action add_diff(CLI::App& app) {
  struct Options {
    std::string before;
    std::string after; // not given: NAME@HEAD (or the version named) against the work tree
    bool json = false;
    std::string color = "auto";
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "diff", "Compare two versions of a prompt: fields, messages, params, output schema, "
              "variables (breaking changes for callers), then a line diff of the texts");
  cmd->add_option("BEFORE", options->before,
                  "NAME@REF: the old version (alone: NAME is NAME@HEAD, compared with the work "
                  "tree)")
      ->required();
  auto* after_option = cmd->add_option(
      "AFTER", options->after,
      "NAME[@REF]: the new version; NAME alone is the work tree. It may name another "
      "prompt");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->add_option("--color", options->color,
                  "Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->type_name("WHEN");
  cmd->footer("Exit status: 0 when the two versions are the same, 1 when they differ (like git "
              "diff --exit-code), 2 for bad input.");
  return [options, after_option] {
    auto before = registry::parse_prompt_ref(options->before);
    registry::PromptRef after;
    if (after_option->count() == 0) {
      // Like git diff: the last commit (or the version named) against the work tree.
      after = {before.name, ""};
      if (before.ref.empty()) {
        before.ref = "HEAD";
      }
    } else {
      after = registry::parse_prompt_ref(options->after);
    }
    const auto registry = registry::Registry::open(".");
    const auto a = registry.resolve(before);
    const auto b = registry.resolve(after);
    const auto diff = registry::diff_prompts(a, b);
    if (options->json) {
      print(registry::to_json(diff).dump(2, ' ', false,
                                         nlohmann::ordered_json::error_handler_t::replace) +
            "\n");
    } else {
      print(registry::format_diff(diff, resolve_color(options->color)));
    }
    return diff.empty() ? 0 : 1;
  };
}

} // namespace promptops::cli
