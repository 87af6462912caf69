#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/registry.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <nlohmann/json.hpp>

namespace promptops::cli {

Action add_list(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List the prompts in the registry");
  cmd->add_flag("--json", *json, "Print a JSON array");
  return [json] {
    const auto registry = registry::Registry::open(".");
    const auto names = registry.prompt_names();
    struct Row {
      std::string name, kind, description;
    };
    std::vector<Row> rows;
    std::size_t broken = 0;
    for (const auto& name : names) {
      const auto path = registry::prompt_path(name);
      try {
        const auto prompt = registry::parse_prompt(name, *registry.work_tree().read(path), path,
                                                   registry.display(path));
        rows.push_back({name, prompt.kind == registry::PromptKind::chat ? "chat" : "text",
                        prompt.description});
      } catch (const Error&) {
        // One broken file must not hide the others; validate says what is wrong.
        rows.push_back({name, "invalid", ""});
        ++broken;
      }
    }
    if (broken > 0) {
      print_note("promptops: warning: " + std::to_string(broken) +
                 (broken == 1 ? " prompt does" : " prompts do") +
                 " not parse; \"promptops validate\" says why\n");
    }
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : rows) {
        out.push_back({{"name", r.name}, {"kind", r.kind}, {"description", r.description}});
      }
      print(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
      return 0;
    }
    // Names and descriptions come from files a pull request may have written: escaped.
    for (auto& r : rows) {
      r.name = util::text::printable(r.name);
      r.description = util::text::printable(r.description);
    }
    std::size_t width = 4;
    for (const auto& r : rows) {
      width = std::max(width, r.name.size());
    }
    std::string out;
    for (const auto& r : rows) {
      out += r.name + std::string(width - r.name.size() + 2, ' ') + r.kind + "  " + r.description;
      while (!out.empty() && out.back() == ' ') {
        out.pop_back();
      }
      out += "\n";
    }
    print(out);
    return 0;
  };
}

} // namespace promptops::cli
