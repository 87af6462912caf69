#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace promptops::report {

struct ResultGroup;

// A finished run as `promptops test` left it in .promptops/runs/<run-id>/: the run's record
// (run.json), its summary (summary.json) and one result per case x provider (results.jsonl),
// in the file's order. The report renderers (junit_xml, markdown_report) read only this.
struct RunRecord {
  std::string run_id;
  std::filesystem::path dir;
  nlohmann::ordered_json run;     // run.json; an empty object when the file is missing
  nlohmann::ordered_json summary; // summary.json
  // The result lines, without their "fingerprint" (the reports do not read it).
  std::vector<nlohmann::ordered_json> results;
  // group_results()'s answer, kept for the next report format. Valid while `grouped_for` is
  // `results`'s buffer: a copied record groups its own.
  mutable std::shared_ptr<const std::vector<ResultGroup>> grouped;
  mutable const void* grouped_for = nullptr;
};

// Read the run in `dir`. A last results line cut short by a kill (no final newline, not JSON)
// is ignored. Throws InputError naming the file when `dir` is not a run, when the run did not
// finish (no summary.json: it says to complete it with --resume), when a file is not JSON,
// and naming the file and line for a results line that is not a JSON object.
RunRecord load_run(const std::filesystem::path& dir);

// The results of one suite on one provider (and one prompt version, when a suite runs several
// prompts on one provider), in natural order of case id ("c2" before "c10").
struct ResultGroup {
  std::string suite;
  std::string suite_file; // as summary.json names it; "" when unknown
  std::string provider;
  std::string prompt;
  std::string prompt_version;
  bool shares_provider = false; // another group has the same suite and provider
  std::vector<const nlohmann::ordered_json*> results; // point into the RunRecord
};

// `record`'s results grouped: groups in the order of summary.json's suites and candidates,
// then any others in order of appearance; groups without results are left out. The pointers
// stay valid while `record` lives and is not changed.
std::vector<ResultGroup> group_results(const RunRecord& record);

// Why `result` did not pass: golden::failure_reason, the one rule, of the stored line.
std::string failure_reason(const nlohmann::ordered_json& result);

// The display name of `group`: "suite on provider", plus " (prompt@version)" (the version's
// first 12 characters) when the suite runs several prompts on that provider.
std::string group_name(const ResultGroup& group);

// Helpers the report formats share.
// `object[key]` when it is an array, else an empty array.
const nlohmann::ordered_json& array_field(const nlohmann::ordered_json& object, const char* key);
// `object[key]` when it is true, else false.
bool true_field(const nlohmann::ordered_json& object, const char* key);
// `object[key]` when it is an unsigned number, else 0.
std::size_t count_field(const nlohmann::ordered_json& object, const char* key);
// "97.5%" for 0.975.
std::string percent(double rate);
// The providers a summary's suite entry runs on, each once, in order: "openai, anthropic".
std::string suite_providers(const nlohmann::ordered_json& suite);

// The kind of a summary.json drift entry: its "kind", or "format" for an entry without one
// (a summary.json of before the other kinds).
std::string drift_kind(const nlohmann::ordered_json& entry);
// How a report titles drift of `kind`: "Format drift", "Token drift", "Cost drift", "Latency
// drift"; another kind as "Drift (kind)".
std::string drift_heading(const std::string& kind);
// summary.json's drift entries by kind: every kind of registry::k_drift_kinds (with no entry
// when none drifted) in its order, then any other kind in order of appearance.
struct DriftGroup {
  std::string kind;
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
};
std::vector<DriftGroup> drift_groups(const nlohmann::ordered_json& drift);

// Baseline outputs by (suite, provider, case id), for diffs against the baseline in the HTML
// and Markdown reports; empty: no baseline.
struct BaselineOutputs {
  std::map<std::tuple<std::string, std::string, std::string>, std::string> outputs;
};

} // namespace promptops::report
