#include "golden/run_tally.hpp"

#include <set>

namespace promptops::golden {
namespace {

// The gate's settings for a suite: its own, else promptops.yaml's, else the defaults.
SuiteGate suite_gate_settings(const Suite& suite, const registry::Config& config,
                              const CaseTotals& totals) {
  SuiteGate gate;
  gate.suite = suite.name;
  gate.cases = totals.cases;
  gate.pass = totals.pass;
  gate.error = totals.error;
  gate.min_pass_rate = suite.gate.min_pass_rate.value_or(config.gate.min_pass_rate.value_or(1.0));
  gate.max_regressions =
      suite.gate.max_regressions ? suite.gate.max_regressions : config.gate.max_regressions;
  gate.fail_on_drift =
      (suite.gate.fail_on_drift ? suite.gate.fail_on_drift : config.gate.fail_on_drift)
          .value_or(std::vector<std::string>{});
  gate.drift_sensitivity =
      parse_drift_sensitivity(
          suite.gate.drift_sensitivity.value_or(config.gate.drift_sensitivity.value_or("default")))
          .value_or(DriftSensitivity::standard);
  return gate;
}

// Whether the selection (--filter, --provider, --shard) left the suite no case to run: then it
// is not part of the run, and its summary says nothing of it, rather than that it passed.
bool left_out(const PlannedSuite& ps, const TestOptions& selection) {
  const bool narrowed =
      !selection.filters.empty() || !selection.provider.empty() || selection.shard_count > 1;
  return narrowed && (ps.cases.empty() || ps.candidates.empty());
}

} // namespace

void RunTally::add(const CaseResult& result, std::optional<Fingerprint> print) {
  if (const Baseline* b = m_plan.baseline(result.suite, result.provider)) {
    m_comparisons.try_emplace(result.suite + '\x1f' + result.provider, *b)
        .first->second.add(result, std::move(print));
  }
  m_per_suite[result.suite].add(result.status);
  m_all.add(result.status);
  if (auto failure = failure_of(result)) {
    m_failures.push_back(std::move(*failure));
  }
  m_input_tokens += result.usage.input_tokens.value_or(0);
  m_output_tokens += result.usage.output_tokens.value_or(0);
  if (result.cost) {
    m_cost = m_cost.value_or(0) + *result.cost;
  }
  if (result.judge) {
    m_judge += *result.judge;
  }
}

SuiteSummary RunTally::summarize_suite(const PlannedSuite& ps, bool complete,
                                       RunComparisons& compared) {
  const registry::Config& config = m_plan.registry().config();
  SuiteSummary out;
  out.name = ps.suite.name;
  out.file = ps.suite.display_path;
  for (const auto& c : ps.candidates) {
    out.candidates.push_back(
        {c.prompt->prompt.name, c.prompt->ref, c.prompt->version, c.provider->settings.name});
  }
  out.totals = m_per_suite[ps.suite.name];
  SuiteGate gate = suite_gate_settings(ps.suite, config, out.totals);
  std::set<std::string> providers_seen;
  for (const auto& cand : ps.candidates) {
    const std::string& provider = cand.provider->settings.name;
    if (!providers_seen.insert(provider).second) {
      continue;
    }
    if (auto found = m_comparisons.find(ps.suite.name + '\x1f' + provider);
        found != m_comparisons.end()) {
      compared.add(ps.suite.name, provider, found->second, complete, out.baselines, gate,
                   pricing_of(config, provider));
    }
  }
  out.gate = gate_verdict(gate);
  return out;
}

RunSummary RunTally::summarize(const RunFacts& facts) {
  m_plan.wait_for_baselines();
  RunSummary s;
  s.run_id = facts.run_id;
  RunComparisons compared;
  bool gate_passed = true;
  const bool complete = m_plan.selection().filters.empty() && !facts.interrupted;
  for (const auto& ps : m_plan.suites()) {
    if (left_out(ps, m_plan.selection())) {
      continue;
    }
    SuiteSummary suite = summarize_suite(ps, complete, compared);
    gate_passed = gate_passed && suite.gate.passed;
    for (const auto& reason : suite.gate.reasons) {
      s.gate_reasons.push_back(reason);
    }
    s.suites.push_back(std::move(suite));
  }
  s.totals = m_all;
  s.regressions = std::move(compared.regressions);
  s.fixed = std::move(compared.fixed);
  s.drift = std::move(compared.drift);
  s.provider_changes = std::move(compared.provider_changes);
  s.gate_passed = gate_passed && !facts.interrupted;
  if (facts.interrupted) {
    s.gate_reasons.push_back("the run was interrupted; finish it with --resume " + facts.run_id);
  }
  s.input_tokens = m_input_tokens;
  s.output_tokens = m_output_tokens;
  s.cost = m_cost;
  s.requests = facts.requests;
  s.cached = facts.cached;
  s.judge = m_judge;
  s.interrupted = facts.interrupted;
  s.finished = facts.finished;
  return s;
}

} // namespace promptops::golden
