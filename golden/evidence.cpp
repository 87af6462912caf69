#include "golden/evidence.hpp"

#include "golden/evidence_inputs.hpp"
#include "golden/result.hpp"
#include "golden/runner.hpp"
#include "golden/suite.hpp"
#include "registry/environment.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace promptops::golden {

namespace {

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

// A suite as the committed tree holds it, with the inputs a run of it must have tested.
struct CommittedSuite {
  std::string name;
  EvidenceInputs inputs;
};

// The suites of the committed tree that run prompt `name`, sorted, with their inputs.
std::vector<CommittedSuite> committed_suites(const registry::Source& committed,
                                             const std::string& name) {
  const std::string config_path = registry::k_config_file;
  const auto config_text = committed.read(config_path);
  if (!config_text) {
    throw InputError("the last commit has no " + config_path +
                     ": commit the registry before promoting into a protected environment");
  }
  const registry::Config config =
      registry::parse_config(*config_text, committed.display(config_path));
  std::vector<CommittedSuite> out;
  for (const auto& suite : suite_names_from_paths(committed.list("golden", ".yaml"))) {
    const std::string path = "golden/" + suite + ".yaml";
    const Suite parsed = parse_suite(suite, committed.read(path).value_or(""), path,
                                     committed.display(path), config);
    if (std::none_of(parsed.candidates.begin(), parsed.candidates.end(),
                     [&](const Candidate& c) { return c.prompt.name == name; })) {
      continue;
    }
    std::vector<Case> cases;
    if (const auto text = committed.read(parsed.cases_path)) {
      cases = parse_cases(*text, committed.display(parsed.cases_path)).cases;
    }
    out.push_back({suite, evidence_inputs(committed, config, parsed, cases)});
  }
  std::sort(out.begin(), out.end(),
            [](const CommittedSuite& a, const CommittedSuite& b) { return a.name < b.name; });
  return out;
}

} // namespace

EvidenceCheck find_evidence(const registry::Registry& registry, const std::string& name,
                            const std::string& version) {
  // The suites as committed, not as the work tree holds them: a run of an edited, easier
  // suite must not vouch for the suite that guards the environment.
  const std::vector<CommittedSuite> suites = committed_suites(*registry.source_for("HEAD"), name);
  EvidenceCheck check;
  for (const auto& s : suites) {
    check.covering.push_back(s.name);
  }

  // suite -> (when its run was written, the evidence)
  std::map<std::string, std::pair<std::filesystem::file_time_type, SuiteEvidence>> best;
  // suite -> (when, why the newest passing run that tested other inputs is not evidence)
  std::map<std::string, std::pair<std::filesystem::file_time_type, std::string>> stale;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(registry.root() / ".promptops" / "runs", ec)) {
    const auto run_text = util::read_file_if_exists(entry.path() / "run.json");
    const auto summary_text = util::read_file_if_exists(entry.path() / "summary.json");
    if (!run_text || !summary_text) {
      continue;
    }
    const nlohmann::ordered_json run = nlohmann::ordered_json::parse(*run_text, nullptr, false);
    const nlohmann::ordered_json summary_json =
        nlohmann::ordered_json::parse(*summary_text, nullptr, false);
    // A summary that does not say whether the run was interrupted proves nothing.
    if (!run.is_object() || !summary_json.is_object() ||
        summary_json.find("interrupted") == summary_json.end()) {
      continue;
    }
    RunSummary summary;
    try {
      summary = run_summary_from_json(summary_json);
    } catch (const InputError&) {
      continue; // written by a newer promptops: not evidence this one can read
    }
    if (!is_whole_run(run_start_from_json(run), summary)) {
      continue;
    }
    const auto tested =
        evidence_from_json(run.contains("evidence") ? run["evidence"] : nlohmann::ordered_json());
    std::error_code time_ec;
    const auto written = std::filesystem::last_write_time(entry.path() / "summary.json", time_ec);
    for (const SuiteSummary& s : summary.suites) {
      const auto committed = std::find_if(
          suites.begin(), suites.end(), [&](const CommittedSuite& c) { return c.name == s.name; });
      if (committed == suites.end() || !s.gate.passed) {
        continue;
      }
      if (std::none_of(s.candidates.begin(), s.candidates.end(), [&](const CandidateEntry& c) {
            return c.prompt == name && c.prompt_version == version;
          })) {
        continue;
      }
      const auto recorded = tested.find(s.name);
      const std::vector<std::string> changed =
          recorded == tested.end() ? std::vector<std::string>{}
                                   : changed_inputs(recorded->second, committed->inputs);
      if (recorded == tested.end() || !changed.empty()) {
        auto& newest = stale[s.name];
        if (newest.second.empty() || newest.first < written) {
          newest = {written, "run " + summary.run_id +
                                 (recorded == tested.end()
                                      ? " does not record what it tested (made by an older "
                                        "promptops)"
                                      : " tested inputs that differ from the last commit: " +
                                            join(changed))};
        }
        continue;
      }
      auto it = best.find(s.name);
      if (it != best.end() && it->second.first >= written) {
        continue;
      }
      SuiteEvidence e;
      e.suite = s.name;
      e.run_id = summary.run_id;
      e.pass_rate = s.totals.pass_rate().value_or(0.0);
      for (const BaselineEntry& b : s.baselines) {
        e.regressions += b.regressed.size();
      }
      e.drift = static_cast<std::size_t>(
          std::count_if(summary.drift.begin(), summary.drift.end(),
                        [&s](const DriftEntry& d) { return d.suite == s.name; }));
      best[s.name] = {written, e};
    }
  }
  for (const auto& suite : check.covering) {
    if (auto it = best.find(suite); it != best.end()) {
      check.found.push_back(it->second.second);
    } else {
      check.missing.push_back(suite);
      if (auto why = stale.find(suite); why != stale.end()) {
        check.stale.push_back(suite + ": " + why->second.second);
      }
    }
  }
  return check;
}

// The evidence a protected environment needs: for every prompt, a passing run of every suite
// that runs it, at the exact version being promoted. With `run`, the suites that have none are
// run now (with the prompt at the promoted version). Throws Error(exit 1) naming what is
// missing.
registry::Evidence gather_evidence(const registry::Registry& registry,
                                   const registry::PromoteRequest& request, bool run,
                                   const std::function<void(const std::string&)>& on_note) {
  const std::string from =
      request.from.empty() ? registry::promotion_source(registry, request.to) : request.from;
  std::vector<std::string> run_ids;
  double pass_rate = 1;
  long long regressions = 0;
  std::size_t drift = 0;
  for (const auto& name : request.prompts) {
    const registry::ResolvedPrompt resolved = registry.resolve({name, from});
    EvidenceCheck check = find_evidence(registry, name, resolved.version);
    if (check.covering.empty()) {
      throw Error("\"" + request.to +
                      "\" is protected, and no suite under golden/ in the last commit runs \"" +
                      name +
                      "\": only tested prompts go there (commit the suite that tests it, or "
                      "--force --reason TEXT)",
                  1);
    }
    if (!check.missing.empty() && run) {
      TestOptions test;
      test.suites = check.missing;
      test.prompt_override = name + "@" + from;
      test.on_warning = [&on_note](const std::string& warning) { on_note("warning: " + warning); };
      const RunOutcome outcome = run_tests(registry, test);
      on_note("ran " + join(check.missing) + " with " + name + "@" + from + ": run " +
              outcome.run_id + (outcome.exit_code == 0 ? ", gate passed" : ", gate FAILED"));
      check = find_evidence(registry, name, resolved.version);
    }
    if (!check.missing.empty()) {
      throw Error(
          "\"" + request.to + "\" is protected: no passing run of " + join(check.missing) +
              " covers " + name + " at " + resolved.short_version() + " (" + from +
              "). Run promptops test " + join(check.missing, " ") + " --prompt " + name + "@" +
              from + " until its gate passes, promote with --run, or --force --reason TEXT" +
              (check.stale.empty() ? std::string() : ". Not evidence: " + join(check.stale, "; ")),
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

} // namespace promptops::golden
