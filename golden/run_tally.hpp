#pragma once

#include "golden/compare.hpp"
#include "golden/result.hpp"
#include "golden/run_plan.hpp"
#include "golden/runner.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

// The tally stage of `promptops test`: each case's result counted as it is written (totals,
// tokens, cost, judges, failures, the comparison with its baseline), then the run's summary
// and gates.
namespace promptops::golden {

class RunTally {
public:
  // `plan` must outlive the tally.
  explicit RunTally(RunPlan& plan) : m_plan(plan) {}

  // Counts one result. `print` is its output's fingerprint when the caller has made it.
  void add(const CaseResult& result, std::optional<Fingerprint> print = std::nullopt);

  // The cases that did not pass, in the order they were counted.
  std::vector<Failure>& failures() { return m_failures; }

  // What the run did, for its summary.
  struct RunFacts {
    std::string run_id;
    bool interrupted = false;
    std::size_t requests = 0; // sent by this run, not taken from the cache
    std::size_t cached = 0;
    std::string finished; // ISO 8601, UTC
  };
  // The summary: each suite's totals, comparisons and gate, then the run's. Waits for the
  // baselines' fingerprints.
  RunSummary summarize(const RunFacts& facts);

private:
  SuiteSummary summarize_suite(const PlannedSuite& ps, bool complete, RunComparisons& compared);

  RunPlan& m_plan;
  std::map<std::string, CaseTotals> m_per_suite;
  std::map<std::string, BaselineComparison> m_comparisons; // suite \x1f provider
  CaseTotals m_all;
  std::int64_t m_input_tokens = 0;
  std::int64_t m_output_tokens = 0;
  std::optional<double> m_cost;
  JudgeUsage m_judge;
  std::vector<Failure> m_failures;
};

} // namespace promptops::golden
