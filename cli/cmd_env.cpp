#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/environment.hpp"
#include "registry/registry.hpp"
#include "util/text.hpp"

#include <nlohmann/json.hpp>

#include <ctime>

namespace promptops::cli {

namespace {
std::string utc(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

std::string short_id(const std::string& id) {
  return id.empty() ? "-" : id.substr(0, 12);
}
} // namespace

Action add_env(CLI::App& app) {
  struct Options {
    std::string env;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("env", "Where each environment stands, and who moved what");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "Each environment's pins and how far they lag");
  list->add_flag("--json", o->json, "Print JSON");
  auto* history = cmd->add_subcommand("history", "Who moved what in an environment, newest first");
  history->add_option("ENV", o->env, "The environment")->required();
  history->add_flag("--json", o->json, "Print JSON");
  return [o, list] {
    const auto registry = registry::Registry::open(".");
    if (list->parsed()) {
      const auto states = registry::list_environments(registry);
      for (const auto& s : states) {
        for (const auto& warning : s.invalid_files) {
          print_note("promptops: warning: " + warning + "\n");
        }
      }
      if (o->json) {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const auto& s : states) {
          nlohmann::ordered_json pins = nlohmann::ordered_json::array();
          for (const auto& p : s.pins) {
            pins.push_back(
                {{"name", p.name},
                 {"version", p.version.empty() ? nlohmann::ordered_json(nullptr)
                                               : nlohmann::ordered_json(p.version)},
                 {"source_version", p.source_version.empty()
                                        ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(p.source_version)},
                 {"behind", p.version != p.source_version && !p.source_version.empty()}});
          }
          out.push_back({{"environment", s.name},
                         {"source", s.source},
                         {"commit", s.tip.empty() ? nlohmann::ordered_json(nullptr)
                                                  : nlohmann::ordered_json(s.tip)},
                         {"pins", pins}});
        }
        print(out.dump(2) + "\n");
        return 0;
      }
      std::string text;
      for (const auto& s : states) {
        text += s.name +
                (s.tip.empty() ? "  (nothing promoted yet)"
                               : "  at " + s.tip.substr(0, 7) + ", " + utc(s.time) + " by " +
                                     util::text::printable(s.author)) +
                "\n";
        std::size_t width = 0;
        for (const auto& p : s.pins) {
          width = std::max(width, p.name.size());
        }
        for (const auto& p : s.pins) {
          std::string state;
          if (p.version.empty()) {
            state = "not pinned; " + s.source + " has " + short_id(p.source_version);
          } else if (p.source_version.empty()) {
            state = "(not in " + s.source + ")";
          } else if (p.version == p.source_version) {
            state = "same as " + s.source;
          } else {
            state = "behind " + s.source + ", which has " + short_id(p.source_version);
          }
          text += "  " + p.name + std::string(width - p.name.size() + 2, ' ') +
                  (p.version.empty() ? std::string(12, '-') : short_id(p.version)) + "  " + state +
                  "\n";
        }
      }
      print(text);
      return 0;
    }
    const auto entries = registry::environment_history(registry, o->env);
    if (o->json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& e : entries) {
        nlohmann::ordered_json trailers = nlohmann::ordered_json::object();
        for (const auto& [k, v] : e.trailers) {
          trailers[k] = v;
        }
        out.push_back({{"commit", e.commit},
                       {"time", e.time},
                       {"author", e.author},
                       {"subject", e.subject},
                       {"trailers", trailers}});
      }
      print(out.dump(2) + "\n");
      return 0;
    }
    if (entries.empty()) {
      print(o->env + ": nothing promoted yet\n");
      return 0;
    }
    std::string text;
    for (const auto& e : entries) {
      // Author and subject are whatever a commit says: escaped, like every string from git.
      text += e.commit.substr(0, 7) + "  " + utc(e.time) + "  " + util::text::printable(e.author) +
              "\n    " + util::text::printable(e.subject) + "\n";
      for (const auto& [k, v] : e.trailers) {
        if (k == "Reason" || k == "Forced" || k.rfind("Evidence", 0) == 0 || k == "Rollback-Of") {
          text += "    " + k + ": " + util::text::printable(v) + "\n";
        }
      }
    }
    print(text);
    return 0;
  };
}

} // namespace promptops::cli
