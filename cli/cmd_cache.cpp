#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "providers/response_cache.hpp"

namespace promptops::cli {

Action add_cache(CLI::App& app) {
  auto action = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("cache", "Inspect or clear the cache of provider replies");
  cmd->require_subcommand(1);
  cmd->add_subcommand("stats", "Where the cache is, how many replies it holds and their size")
      ->callback([action] { *action = "stats"; });
  cmd->add_subcommand("clear", "Remove every cached reply")->callback([action] {
    *action = "clear";
  });
  return [action] {
    const auto dir = providers::ResponseCache::default_dir();
    if (!dir) {
      const std::string why = providers::ResponseCache::k_no_default_dir;
      print(*action == "clear" ? "nothing to clear: the response cache is off (" + why + ")\n"
                               : "cache: off (" + why + ")\n");
      return 0;
    }
    const providers::ResponseCache cache(*dir);
    if (*action == "clear") {
      const auto removed = cache.clear();
      print("removed " + std::to_string(removed) + " cached replies from " + cache.dir().string() +
            "\n");
      return 0;
    }
    const auto stats = cache.stats();
    print("cache: " + cache.dir().string() + "\nentries: " + std::to_string(stats.entries) +
          "\nbytes: " + std::to_string(stats.bytes) +
          "\non disk: " + std::to_string(stats.disk_bytes) + "\n");
    return 0;
  };
}

} // namespace promptops::cli
