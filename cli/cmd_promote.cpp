#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "golden/evidence.hpp"
#include "registry/environment.hpp"
#include "registry/registry.hpp"

#include <nlohmann/json.hpp>

namespace promptops::cli {

namespace {

std::string describe(const registry::PinChange& c) {
  return c.name + " " + (c.number > 0 ? "v" + std::to_string(c.number) + " " : "") +
         c.to_version.substr(0, 12) +
         (c.from_version.empty() ? " (new)" : " (was " + c.from_version.substr(0, 12) + ")");
}

int report(const registry::MoveResult& result, const std::string& verb, const std::string& env,
           bool json) {
  if (json) {
    nlohmann::ordered_json j;
    j["environment"] = env;
    j["commit"] = result.commit.empty() ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(result.commit);
    j["previous"] = result.previous.empty() ? nlohmann::ordered_json(nullptr)
                                            : nlohmann::ordered_json(result.previous);
    nlohmann::ordered_json changes = nlohmann::ordered_json::array();
    for (const auto& c : result.changes) {
      changes.push_back({{"name", c.name},
                         {"from", c.from_version.empty() ? nlohmann::ordered_json(nullptr)
                                                         : nlohmann::ordered_json(c.from_version)},
                         {"to", c.to_version},
                         {"number", c.number}});
    }
    j["changes"] = changes;
    print(j.dump(2) + "\n");
    return 0;
  }
  if (result.commit.empty()) {
    print("nothing to do: " + env + " already pins those versions\n");
    return 0;
  }
  std::string out;
  for (const auto& c : result.changes) {
    out += verb + " " + describe(c) + " in " + env + "\n";
  }
  out += "promptops/env/" + env + " is now at " + result.commit.substr(0, 7) + "\n";
  print(out);
  return 0;
}

} // namespace

Action add_promote(CLI::App& app) {
  struct Options {
    registry::PromoteRequest request;
    bool run = false;
    bool force = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "promote", "Pin prompts' versions from HEAD or one environment into the next, as one commit");
  cmd->add_option("NAME", o->request.prompts, "Prompts to promote (together or not at all)")
      ->required();
  cmd->add_option("--to", o->request.to, "Environment to promote into")
      ->required()
      ->type_name("ENV");
  cmd->add_option("--from", o->request.from,
                  "HEAD or an environment (default: the environment before --to, or HEAD)")
      ->type_name("ENV|HEAD");
  cmd->add_flag("--run", o->run,
                "Into a protected environment: run the suites that have no passing run of the "
                "promoted versions first");
  cmd->add_flag("--force", o->force, "Promote into a protected environment without evidence");
  cmd->add_option("--reason", o->request.reason, "Why (required with --force; recorded)")
      ->type_name("TEXT");
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  return [o] {
    o->request.force = o->force ? registry::Force::yes : registry::Force::no;
    const auto registry = registry::Registry::open(".");
    // Evidence is found, never claimed: the runs under .promptops/runs whose gates passed
    // with these exact versions.
    if (registry::is_protected_environment(registry, o->request.to) && !o->force) {
      o->request.evidence = golden::gather_evidence(registry, o->request, o->run, print_note);
    }
    return report(registry::promote(registry, o->request), "promoted", o->request.to, o->json);
  };
}

Action add_rollback(CLI::App& app) {
  struct Options {
    registry::RollbackRequest request;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "rollback", "Pin an earlier version of a prompt in an environment, as a new commit");
  cmd->add_option("NAME", o->request.prompt, "The prompt")->required();
  cmd->add_option("--env", o->request.env, "The environment")->required()->type_name("ENV");
  cmd->add_option("--to", o->request.to,
                  "vN or a version id (default: the version pinned before the current one)")
      ->type_name("VERSION");
  cmd->add_option("--reason", o->request.reason, "Why (recorded)")->type_name("TEXT");
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  return [o] {
    const auto registry = registry::Registry::open(".");
    return report(registry::rollback(registry, o->request), "rolled back", o->request.env, o->json);
  };
}

} // namespace promptops::cli
