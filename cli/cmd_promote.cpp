#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "golden/evidence.hpp"
#include "golden/runner.hpp"
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

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

// The evidence a protected environment needs: for every prompt, a passing run of every suite
// that runs it, at the exact version being promoted. With `run`, the suites that have none are
// run now (with the prompt at the promoted version). Throws Error(exit 1) naming what is
// missing.
registry::Evidence gather_evidence(const registry::Registry& registry,
                                   const registry::PromoteRequest& request, bool run) {
  const std::string from =
      request.from.empty() ? registry::promotion_source(registry, request.to) : request.from;
  std::vector<std::string> run_ids;
  double pass_rate = 1;
  long long regressions = 0;
  std::size_t drift = 0;
  for (const auto& name : request.prompts) {
    const registry::ResolvedPrompt resolved = registry.resolve({name, from});
    golden::EvidenceCheck check = golden::find_evidence(registry, name, resolved.version);
    if (check.covering.empty()) {
      throw Error("\"" + request.to + "\" is protected, and no suite under golden/ runs \"" + name +
                      "\": only tested prompts go there (or --force --reason TEXT)",
                  1);
    }
    if (!check.missing.empty() && run) {
      golden::TestOptions test;
      test.suites = check.missing;
      test.prompt_override = name + "@" + from;
      const golden::RunOutcome outcome = golden::run_tests(registry, test);
      print_note("ran " + join(check.missing) + " with " + name + "@" + from + ": run " +
                 outcome.run_id + (outcome.exit_code == 0 ? ", gate passed" : ", gate FAILED"));
      check = golden::find_evidence(registry, name, resolved.version);
    }
    if (!check.missing.empty()) {
      throw Error("\"" + request.to + "\" is protected: no passing run of " + join(check.missing) +
                      " covers " + name + " at " + resolved.short_version() + " (" + from +
                      "). Run promptops test " + join(check.missing, " ") + " --prompt " + name +
                      "@" + from +
                      " until its gate passes, promote with --run, or --force --reason TEXT",
                  1);
    }
    for (const auto& e : check.found) {
      if (std::find(run_ids.begin(), run_ids.end(), e.run_id) == run_ids.end()) {
        run_ids.push_back(e.run_id);
      }
      pass_rate = std::min(pass_rate, e.pass_rate);
      regressions += static_cast<long long>(e.regressions);
      drift += e.drift;
    }
  }
  registry::Evidence evidence;
  evidence.run_id = join(run_ids);
  evidence.pass_rate = pass_rate;
  evidence.regressions = regressions;
  evidence.drift = drift == 0 ? "none" : std::to_string(drift) + " findings";
  return evidence;
}

} // namespace

Action add_promote(CLI::App& app) {
  struct Options {
    std::vector<std::string> prompts;
    registry::PromoteRequest request;
    bool run = false;
    bool force = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "promote", "Pin prompts' versions from HEAD or one environment into the next, as one commit");
  cmd->add_option("NAME", o->prompts, "Prompts to promote (together or not at all)")->required();
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
    o->request.prompts = o->prompts;
    o->request.force = o->force ? registry::Force::yes : registry::Force::no;
    const auto registry = registry::Registry::open(".");
    // Evidence is found, never claimed: the runs under .promptops/runs whose gates passed
    // with these exact versions.
    if (registry::is_protected_environment(registry, o->request.to) && !o->force) {
      o->request.evidence = gather_evidence(registry, o->request, o->run);
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
