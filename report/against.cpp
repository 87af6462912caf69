#include "report/against.hpp"

#include "golden/baseline.hpp"
#include "golden/compare.hpp"
#include "golden/usage_drift.hpp"
#include "registry/config.hpp"
#include "util/error.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace promptops::report {

namespace {

std::string pair_key(const std::string& suite, const std::string& provider) {
  std::string key = suite;
  key += '\x1f';
  key += provider;
  return key;
}

// OTHER's refs by suite, provider, prompt and version, from its summary's candidates.
std::map<std::string, std::string> candidate_refs(const RunRecord& other) {
  std::map<std::string, std::string> refs;
  for (const golden::SuiteSummary& suite : other.summary.suites) {
    for (const golden::CandidateEntry& c : suite.candidates) {
      std::string key = pair_key(suite.name, c.provider);
      key += '\x1f';
      key += c.prompt;
      key += '\x1f';
      key += c.prompt_version;
      refs.emplace(std::move(key), c.ref);
    }
  }
  return refs;
}

// The group of OTHER to compare `suite` on `provider` with: the lines of RUN's prompt there
// (RUN's candidates in order; of OTHER's groups of that prompt, the one with the same ref,
// else the first), else OTHER's first group of the suite on that provider. nullptr: none.
const ResultGroup* choose_group(const std::vector<ResultGroup>& other_groups,
                                const std::map<std::string, std::string>& other_refs,
                                const golden::SuiteSummary& suite, const std::string& provider) {
  std::vector<const ResultGroup*> groups;
  for (const ResultGroup& g : other_groups) {
    if (g.suite == suite.name && g.provider == provider) {
      groups.push_back(&g);
    }
  }
  if (groups.empty()) {
    return nullptr;
  }
  for (const golden::CandidateEntry& c : suite.candidates) {
    if (c.provider != provider) {
      continue;
    }
    const ResultGroup* same_prompt = nullptr;
    for (const ResultGroup* g : groups) {
      if (g->prompt != c.prompt) {
        continue;
      }
      std::string key = pair_key(g->suite, g->provider);
      key += '\x1f';
      key += g->prompt;
      key += '\x1f';
      key += g->prompt_version;
      const auto found = other_refs.find(key);
      if (found != other_refs.end() && found->second == c.ref) {
        return g;
      }
      if (same_prompt == nullptr) {
        same_prompt = g;
      }
    }
    if (same_prompt != nullptr) {
      return same_prompt;
    }
  }
  return groups.front();
}

// OTHER's lines of `group` as a baseline, their outputs added to `outputs`. A line in error or
// without an output is left out, as `promptops baseline record` would.
golden::Baseline baseline_of(const RunRecord& other, const ResultGroup& group,
                             BaselineOutputs& outputs) {
  golden::Baseline b;
  b.path = ".promptops/runs/";
  b.path += other.run_id;
  b.path += "/results.jsonl";
  b.shown = "run ";
  b.shown += other.run_id;
  std::vector<double> latencies; // of OTHER's uncached calls, in error or not
  for (const golden::CaseResult* r : group.results) {
    if (const auto ms = golden::uncached_latency_ms(*r)) {
      latencies.push_back(*ms);
    }
    if (!r->output || r->status == golden::CaseStatus::error) {
      continue;
    }
    golden::BaselineCase c;
    c.output = *r->output;
    c.status = golden::to_string(r->status);
    c.score = r->score;
    c.model = r->model;
    c.system_fingerprint = r->system_fingerprint;
    c.usage = r->usage;
    c.print = r->fingerprint; // unset (load_run skips them): computed from the output
    if (b.cases.emplace(r->id, std::move(c)).second) {
      outputs.outputs[{group.suite, group.provider, r->id}] = *r->output;
    }
  }
  b.latency = golden::summarize_latency(latencies, other.run_id);
  return b;
}

// The suite's gate as RUN recorded it (its totals and settings), before the comparison adds
// its regressions and drift.
golden::SuiteGate recorded_gate(const golden::SuiteSummary& suite, const std::string& reference) {
  golden::SuiteGate gate;
  gate.suite = suite.name;
  gate.cases = suite.totals.cases;
  gate.pass = suite.totals.pass;
  gate.error = suite.totals.error;
  gate.min_pass_rate = suite.gate.min_pass_rate;
  gate.max_regressions = suite.gate.max_regressions;
  gate.fail_on_drift = suite.gate.fail_on_drift;
  gate.drift_sensitivity = golden::parse_drift_sensitivity(suite.gate.drift_sensitivity)
                               .value_or(golden::DriftSensitivity::standard);
  gate.reference = reference;
  return gate;
}

} // namespace

AgainstRun compare_runs(RunRecord run, const RunRecord& other, const registry::Config& config) {
  if (other.summary.interrupted) {
    throw InputError(std::string("run ") + other.run_id +
                     " was interrupted: the cases it lacks would look removed; complete it " +
                     "with promptops test --resume " + other.run_id + " first");
  }
  AgainstRun out;
  const std::vector<ResultGroup> other_groups = group_results(other);
  const std::map<std::string, std::string> other_refs = candidate_refs(other);
  golden::RunSummary& summary = run.summary;

  // A baseline per suite and provider of RUN that OTHER has lines of, and its comparison.
  std::map<std::string, golden::Baseline> baselines; // suite \x1f provider
  std::map<std::string, golden::BaselineComparison> comparisons;
  for (const golden::SuiteSummary& suite : summary.suites) {
    for (const golden::CandidateEntry& c : suite.candidates) {
      const std::string key = pair_key(suite.name, c.provider);
      if (baselines.count(key) > 0) {
        continue;
      }
      const ResultGroup* group = choose_group(other_groups, other_refs, suite, c.provider);
      if (group == nullptr) {
        continue;
      }
      const golden::Baseline& b =
          baselines.emplace(key, baseline_of(other, *group, out.baseline)).first->second;
      comparisons.try_emplace(key, b);
    }
  }
  for (const golden::CaseResult& r : run.results) {
    const auto found = comparisons.find(pair_key(r.suite, r.provider));
    if (found != comparisons.end()) {
      found->second.add(r);
    }
  }

  // The summary's comparison fields and gates, as `promptops test` makes them.
  const bool complete = golden::is_whole_run(run.run, run.summary);
  bool gate_passed = true;
  std::vector<std::string> reasons;
  golden::RunComparisons compared;
  for (golden::SuiteSummary& suite : summary.suites) {
    golden::SuiteGate gate = recorded_gate(suite, "run " + other.run_id);
    suite.baselines.clear();
    std::set<std::string> providers_seen;
    for (const golden::CandidateEntry& c : suite.candidates) {
      if (!providers_seen.insert(c.provider).second) {
        continue;
      }
      if (const auto found = comparisons.find(pair_key(suite.name, c.provider));
          found != comparisons.end()) {
        compared.add(suite.name, c.provider, found->second, complete, suite.baselines, gate,
                     golden::pricing_of(config, c.provider));
      }
    }
    suite.gate = golden::gate_verdict(gate);
    reasons.insert(reasons.end(), suite.gate.reasons.begin(), suite.gate.reasons.end());
    gate_passed = gate_passed && suite.gate.passed;
  }
  if (summary.interrupted) {
    // The run's own words for it, else those `promptops test` uses.
    std::string said = "the run was interrupted; finish it with --resume " + run.run_id;
    for (const std::string& reason : summary.gate_reasons) {
      if (reason.rfind("the run was interrupted", 0) == 0) {
        said = reason;
        break;
      }
    }
    reasons.push_back(std::move(said));
  }
  summary.regressions = std::move(compared.regressions);
  summary.fixed = std::move(compared.fixed);
  summary.drift = std::move(compared.drift);
  summary.provider_changes = std::move(compared.provider_changes);
  summary.gate_passed = gate_passed && !summary.interrupted;
  summary.gate_reasons = std::move(reasons);
  summary.against = other.run_id;
  out.record = std::move(run);
  return out;
}

} // namespace promptops::report
