#pragma once

#include "registry/environment.hpp"
#include "registry/registry.hpp"

#include <functional>
#include <string>
#include <vector>

// Evidence for a promotion: runs whose gate passed with a prompt at an exact version.
namespace promptops::golden {

// One suite's passing run.
struct SuiteEvidence {
  std::string suite;
  std::string run_id;
  double pass_rate = 0;
  std::size_t regressions = 0;
  std::size_t drift = 0; // drift findings
};

struct EvidenceCheck {
  std::vector<std::string> covering; // the suites that run the prompt, sorted
  std::vector<SuiteEvidence> found;  // one per covered suite that has a passing run
  std::vector<std::string> missing;  // covering suites without one
  // For missing suites that have a passing run of other inputs: "suite: why it does not count"
  std::vector<std::string> stale;
};

// The suites of the last commit (HEAD) that run prompt `name` (at any ref), and for each the
// newest run under .promptops/runs whose gate for that suite passed with `name` at `version`
// and which tested that suite as committed: the same suite file, cases, evaluator files,
// judge prompts, provider entries, baselines and gate (evidence_inputs.hpp). Only whole runs
// count: not interrupted, with no --filter, --provider or --shard (a run of some cases proves
// nothing about the others); a merge of shards is whole.
EvidenceCheck find_evidence(const registry::Registry& registry, const std::string& name,
                            const std::string& version);

// The evidence a protected environment needs before `request` promotes into it: for every
// prompt, a passing run of every suite that runs it, at the exact version being promoted.
// With `run`, the suites that have none are run now (with the prompt at the promoted
// version), and `on_note` is told of each such run. Throws Error(exit 1) naming what is
// missing.
registry::Evidence gather_evidence(const registry::Registry& registry,
                                   const registry::PromoteRequest& request, bool run,
                                   const std::function<void(const std::string&)>& on_note);

} // namespace promptops::golden
