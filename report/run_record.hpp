#pragma once

#include "golden/result.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace promptops::report {

struct ResultGroup;

// A finished run as `promptops test` left it in .promptops/runs/<run-id>/: the run's start
// (run.json), its summary (summary.json) and one result per case x provider (results.jsonl),
// in the file's order, read as golden's types. The report renderers read only this.
struct RunRecord {
  std::string run_id;
  std::filesystem::path dir;
  golden::RunStart run;       // run.json; unset members when the file is missing
  golden::RunSummary summary; // summary.json
  // The results, without their fingerprints (the reports do not read them).
  std::vector<golden::CaseResult> results;
  // group_results()'s answer, kept for the next report format. Valid while `grouped_for` is
  // `results`'s buffer: a copied record groups its own.
  mutable std::shared_ptr<const std::vector<ResultGroup>> grouped;
  mutable const void* grouped_for = nullptr;
};

// Read the run in `dir`. A last results line cut short by a kill (no final newline, not JSON)
// is ignored. Throws InputError naming the file when `dir` is not a run, when the run did not
// finish (no summary.json: it says to complete it with --resume), when a file is not JSON or of
// a newer format_version, and naming the file and line for a results line that is not a JSON
// object or is of a newer format_version.
RunRecord load_run(const std::filesystem::path& dir);

// The results of one suite on one provider (and one prompt version, when a suite runs several
// prompts on one provider), in natural order of case id ("c2" before "c10").
struct ResultGroup {
  std::string suite;
  std::string suite_file; // as summary.json names it; "" when unknown
  std::string provider;
  std::string prompt;
  std::string prompt_version;
  bool shares_provider = false;                   // another group has the same suite and provider
  std::vector<const golden::CaseResult*> results; // point into the RunRecord
};

// `record`'s results grouped: groups in the order of summary.json's suites and candidates,
// then any others in order of appearance; groups without results are left out. The pointers
// stay valid while `record` lives and is not changed.
std::vector<ResultGroup> group_results(const RunRecord& record);

// The display name of `group`: "suite on provider", plus " (prompt@version)" (the version's
// first 12 characters) when the suite runs several prompts on that provider.
std::string group_name(const ResultGroup& group);

// Helpers the report formats share.
// "97.5%" for 0.975.
std::string percent(double rate);
// The run's usage on one line, each label followed by `after_label` (": " in Markdown):
// "tokens: 10 in, 5 out · cost: $0.0100 · requests: 3 (1 from the cache) · judge calls: 2
// ($0.0020)"; the costs only when priced, the judges only when called.
std::string usage_line(const golden::RunSummary& summary, const std::string& after_label);
// The providers of a suite's candidates, each once, in order: "openai, anthropic".
std::string suite_providers(const golden::SuiteSummary& suite);

// How a report titles drift of `kind`: "Format drift", "Token drift", "Cost drift", "Latency
// drift"; another kind as "Drift (kind)".
std::string drift_heading(const std::string& kind);
// A summary's drift entries by kind: every kind of registry::k_drift_kinds (with no entry
// when none drifted) in its order, then any other kind in order of appearance.
struct DriftGroup {
  std::string kind;
  std::vector<golden::DriftEntry> entries;
};
std::vector<DriftGroup> drift_groups(const std::vector<golden::DriftEntry>& drift);

// Baseline outputs by (suite, provider, case id), for diffs against the baseline in the HTML
// and Markdown reports; empty: no baseline.
struct BaselineOutputs {
  std::map<std::tuple<std::string, std::string, std::string>, std::string> outputs;
};

} // namespace promptops::report
