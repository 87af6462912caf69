#pragma once

#include "golden/baseline.hpp"
#include "golden/drift.hpp"
#include "golden/fingerprint.hpp"
#include "golden/result.hpp"
#include "golden/usage_drift.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

// A run's results on one suite and provider against a baseline, case by case: what `promptops
// test` reports against golden/baselines/ and `promptops report RUN --against RUN` against
// another run. The summary.json fields it makes are described in docs/baselines.md.
namespace promptops::golden {

class BaselineComparison {
public:
  // `baseline` must outlive the comparison.
  explicit BaselineComparison(const Baseline& baseline);

  // Counts one result of the run. `print` is the fingerprint of its output when the caller
  // has it; else the result's stored one (of the current version) is used, else it is
  // computed from the output.
  void add(const CaseResult& result, std::optional<Fingerprint> print = std::nullopt);

  // The suite's comparison on `provider`. `complete`: the run holds every case of its
  // selection (not filtered, not interrupted), so the baseline's cases it lacks count as
  // removed; else `removed` is unset.
  BaselineEntry entry(const std::string& provider, bool complete) const;

  // Appends to `out` the model id or system fingerprint the provider reports (the most common
  // on each side) when it differs from the baseline's.
  void provider_changes(const std::string& suite, const std::string& provider,
                        std::vector<ProviderChange>& out) const;

  // The drift of the run against the baseline, as summary.json's drift entries (each naming
  // at most 1,000 of its cases): the outputs' format, each paired with the baseline's output
  // of its case; then tokens and cost per case (cost at `pricing`, none without it); then the
  // latency of the run's uncached calls against the baseline's latency summary.
  struct Drift {
    std::vector<DriftFinding> findings;
    std::vector<DriftEntry> entries;
  };
  Drift drift(const std::string& suite, const std::string& provider, const DriftOptions& options,
              const std::optional<Pricing>& pricing) const;

  const std::vector<std::string>& regressed() const { return m_regressed; }
  const std::vector<std::string>& fixed() const { return m_fixed; }
  const Baseline& baseline() const { return m_baseline; }

private:
  const Baseline& m_baseline;
  std::vector<std::string> m_regressed; // pass in the baseline, fail now
  std::vector<std::string> m_fixed;     // fail in the baseline, pass now
  std::size_t m_still_failing = 0;
  std::size_t m_new = 0; // not in the baseline
  std::size_t m_compared = 0;
  std::size_t m_changed_outputs = 0;
  double m_score_delta = 0; // summed over the cases with a score on both sides
  std::size_t m_scored = 0;
  // The baseline's cases the run had (a case may come once per prompt of a suite that runs
  // several on one provider): sorted and made unique when read.
  mutable std::vector<const BaselineCase*> m_seen;
  std::map<std::string, std::size_t> m_models; // the run's, by how many cases reported each
  std::map<std::string, std::size_t> m_system_fingerprints;
  std::vector<Fingerprint> m_prints;                  // of the run's outputs, for drift
  std::vector<std::string> m_print_ids;               // the case of each
  std::vector<const BaselineCase*> m_print_baselines; // the baseline's line of each (null: new)
  std::vector<TokenUsage> m_usage;                    // the tokens of each
  std::vector<double> m_latencies;                    // of the run's uncached calls, of outputs...
  std::vector<std::size_t> m_latency_at;              // ...at these positions of m_prints
  const std::vector<const BaselineCase*>& seen() const;
};

// What a suite's gate decides on.
struct SuiteGate {
  std::string suite;
  std::size_t cases = 0;
  std::size_t pass = 0;
  std::size_t error = 0;
  double min_pass_rate = 1.0;
  std::optional<long long> max_regressions; // none: regressions do not gate
  // The kinds of drift that fail the gate (of registry::k_drift_kinds, in its order); empty:
  // drift is reported, never gated.
  std::vector<std::string> fail_on_drift;
  DriftSensitivity drift_sensitivity = DriftSensitivity::standard;
  std::vector<std::string> regressed; // case ids, over the suite's providers
  struct DriftMessage {
    std::string kind;
    std::string message;
  };
  std::vector<DriftMessage> drift;        // the drift findings, over the suite's providers
  std::string reference = "the baseline"; // what the run was compared with, for the reasons
};

// Why the gate fails the suite, in this order: the pass rate below min_pass_rate, more
// regressions than max_regressions, drift of each kind listed in fail_on_drift (one reason a
// kind, naming it), cases in error (they count as failures). Empty: the gate passes.
std::vector<std::string> gate_reasons(const SuiteGate& gate);

// The suite's gate verdict with its settings, decided by gate_reasons.
GateVerdict gate_verdict(const SuiteGate& gate);

// The summary's comparison fields over a run's suites: `promptops test` against the
// baselines and `promptops report --against` against another run make them alike.
struct RunComparisons {
  std::vector<std::string> regressions;
  std::vector<std::string> fixed;
  std::vector<ProviderChange> provider_changes;
  std::vector<DriftEntry> drift;

  // Adds `comparison`, of `suite` on `provider`: its entry to the suite's `baselines`, its
  // regressed cases and drift findings (at the gate's drift_sensitivity, cost at `pricing`)
  // to the suite's `gate`, and to the run's lists above. `complete`: as in
  // BaselineComparison::to_json.
  void add(const std::string& suite, const std::string& provider,
           const BaselineComparison& comparison, bool complete,
           std::vector<BaselineEntry>& baselines, SuiteGate& gate,
           const std::optional<Pricing>& pricing);
};

} // namespace promptops::golden
