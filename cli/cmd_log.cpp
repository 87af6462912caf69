#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/history.hpp"
#include "registry/prompt.hpp"
#include "registry/registry.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <map>

namespace promptops::cli {

namespace {

std::string format_time(std::int64_t seconds, int offset_minutes) {
  const std::time_t local = static_cast<std::time_t>(seconds + offset_minutes * 60);
  std::tm tm{};
  gmtime_r(&local, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M", &tm);
  const int sign = offset_minutes < 0 ? -1 : 1;
  const int abs_minutes = offset_minutes * sign;
  char zone[24];
  std::snprintf(zone, sizeof zone, "%c%02d%02d", sign < 0 ? '-' : '+', abs_minutes / 60,
                abs_minutes % 60);
  return std::string(buffer) + " " + zone;
}

} // namespace

Action add_log(CLI::App& app) {
  struct Options {
    std::string prompt;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("log", "List a prompt's versions v1, v2, ... in commit order");
  cmd->add_option("NAME", options->prompt, "The prompt")->required();
  cmd->add_flag("--json", options->json, "Print a JSON array");
  return [options] {
    registry::check_name(options->prompt, "prompt");
    const auto registry = registry::Registry::open(".");
    const auto history = registry::prompt_history(registry, options->prompt);

    // Which environments pin which version.
    std::map<std::string, std::vector<std::string>> pinned_by;
    for (const auto& env : registry.config().environments) {
      try {
        pinned_by[registry.resolve({options->prompt, env}).version].push_back(env);
      } catch (const Error&) {
        // Not promoted there (yet), or the environment has no branch.
      }
    }
    if (options->json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& e : history) {
        nlohmann::ordered_json row;
        row["version"] = "v" + std::to_string(e.number);
        row["id"] = e.id;
        row["commit"] = e.commit;
        row["name"] = e.name;
        row["time"] = e.time;
        row["author"] = e.author;
        row["subject"] = e.subject;
        row["reverted"] = e.reverted;
        row["environments"] = pinned_by.count(e.id) ? pinned_by[e.id] : std::vector<std::string>{};
        out.push_back(row);
      }
      print(out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
      return 0;
    }
    std::string out;
    for (const auto& e : history) {
      std::string line = "v" + std::to_string(e.number);
      line.resize(std::max<std::size_t>(line.size() + 1, 5), ' ');
      line += e.id.substr(0, 12) + "  " + e.commit.substr(0, 7) + "  " +
              format_time(e.time, e.time_offset) + "  " + util::text::printable(e.author) + "  " +
              util::text::printable(e.subject);
      if (e.name != options->prompt) {
        line += "  (as " + e.name + ")";
      }
      if (e.reverted) {
        line += "  (back to v" + std::to_string(e.number) + ")";
      }
      if (auto it = pinned_by.find(e.id); it != pinned_by.end()) {
        std::string envs;
        for (const auto& env : it->second) {
          envs += (envs.empty() ? "" : ", ") + env;
        }
        line += "  [" + envs + "]";
      }
      out += line + "\n";
    }
    print(out);
    return 0;
  };
}

} // namespace promptops::cli
