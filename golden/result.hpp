#pragma once

#include "golden/fingerprint.hpp"
#include "golden/usage_drift.hpp"
#include "reply/reply.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// A run's results as types: a CaseResult is one line of results.jsonl (or of a baseline), a
// RunSummary is summary.json. This file is the only reader and writer of both: the runner
// writes them, the tally and the comparison with the baseline read them, every report renders
// them. The members are described in SPEC and docs/reports.md.
namespace promptops::golden {

// Written into every result line and summary ("format_version"). A file without it is of
// version 1: the same members, read the same way. A newer version is refused with a message
// that names it, never read by guesswork.
inline constexpr int k_results_format_version = 2;

enum class CaseStatus { pass, fail, error };

// "pass", "fail" or "error".
const char* to_string(CaseStatus status);

// One evaluator's verdict on a case.
struct EvaluationResult {
  std::string type;
  bool pass = false;
  double score = 0;
  std::string reason;
  bool required = true; // false: reported, never fails the case
  bool error = false;   // it could not decide (a judge with no usable answer)
};

// What a case's judge calls cost, apart from the candidate's; summed over a run.
struct JudgeUsage {
  std::size_t calls = 0;
  std::size_t requests = 0; // sent (attempts), not taken from the cache
  std::size_t cached = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::optional<double> cost; // unset: no judge call had a price

  JudgeUsage& operator+=(const JudgeUsage& other);
};

// One case on one candidate.
struct CaseResult {
  std::string id;
  std::string suite;
  std::string prompt;
  std::string provider;
  std::string model;                 // as the provider reported it; "" when it did not (null)
  std::string prompt_version;        // "" when unknown
  std::optional<std::string> output; // unset: the provider gave none
  reply::Facts facts;                // stop reason, refusal, tool calls
  CaseStatus status = CaseStatus::error;
  std::optional<double> score;
  std::vector<EvaluationResult> evaluations;
  std::optional<double> latency_ms;
  TokenUsage usage;
  std::optional<double> cost;
  std::optional<Fingerprint> fingerprint; // read back only when asked for
  std::string system_fingerprint;         // "" when the provider reported none
  int attempts = 0;
  bool cached = false;
  std::optional<JudgeUsage> judge; // set when the case has judges
  std::vector<std::string> notes;  // what was mended to read the reply
  std::string error;               // why it is in error (status error)
};

// Why `result` did not pass, the one rule every report follows: the first failed required
// evaluation as "type: reason", else the first failed evaluation, else the provider's error,
// else "the case could not be run"; "" for a pass.
std::string failure_reason(const CaseResult& result);

// The latency of `result`'s call when it was made (not taken from the cache or a resumed
// run), for latency drift; std::nullopt otherwise.
std::optional<double> uncached_latency_ms(const CaseResult& result);

// The line of results.jsonl for `result` (no newline), members in SPEC's order.
std::string result_line(const CaseResult& result);
nlohmann::ordered_json to_json(const CaseResult& result);

// Whether a reader wants the stored fingerprints (the comparison does; the reports do not).
enum class Fingerprints { skip, read };

// The result in `line`, read leniently: a stored line a person may have edited keeps what is
// of the right type and leaves the rest unset (a missing or unknown status is "error").
// Throws InputError(problem only) for a format_version newer than this build reads.
CaseResult case_result_from_json(const nlohmann::ordered_json& line, Fingerprints fingerprints);
// The same, moving the line's strings (its output above all) into the result instead of copying
// them: for a reader that drops the line next. `line` is left valid but emptied of them.
CaseResult case_result_from_json(nlohmann::ordered_json&& line, Fingerprints fingerprints);

// A suite's or a run's case counts.
struct CaseTotals {
  std::size_t cases = 0;
  std::size_t pass = 0;
  std::size_t fail = 0;
  std::size_t error = 0;

  void add(CaseStatus status);
  // pass / cases; std::nullopt for no case.
  std::optional<double> pass_rate() const;
};

// A candidate of a suite: a prompt at a ref on a provider.
struct CandidateEntry {
  std::string prompt;
  std::string ref; // "" : the working tree
  std::string prompt_version;
  std::string provider;
};

// A suite's comparison with its baseline on one provider (summary.json's suites[].baselines[]).
struct BaselineEntry {
  std::string provider;
  std::string file; // the baseline, as shown
  std::size_t compared = 0;
  std::vector<std::string> regressed; // case ids: pass in the baseline, not now
  std::vector<std::string> fixed;     // fail in the baseline, pass now
  std::size_t still_failing = 0;
  std::size_t new_cases = 0;          // "new": not in the baseline
  std::optional<std::size_t> removed; // unset when the run was not complete (null)
  std::size_t changed_outputs = 0;
  std::optional<double> mean_score_delta; // unset: no case scored on both sides
};

// A suite's gate verdict (summary.json's suites[].gate).
struct GateVerdict {
  bool passed = true;
  double min_pass_rate = 1.0;
  std::optional<long long> max_regressions;
  std::vector<std::string> fail_on_drift; // the kinds of drift that fail it
  std::string drift_sensitivity = "default";
  std::vector<std::string> reasons;
};

struct SuiteSummary {
  std::string name;
  std::string file; // golden/<name>.yaml as shown
  std::vector<CandidateEntry> candidates;
  CaseTotals totals;
  std::vector<BaselineEntry> baselines;
  GateVerdict gate;
};

// A drift finding of a suite on a provider (summary.json's drift[]).
struct DriftEntry {
  std::string suite;
  std::string provider;
  std::string kind = "format"; // an entry written before the other kinds has none
  std::string feature;
  std::string baseline;           // e.g. "0 of 50"
  std::string candidate;          // e.g. "44 of 50 (```json)"
  std::size_t count = 0;          // the run's outputs that show it
  std::vector<std::string> cases; // their ids, the first 1,000
  std::string message;
  std::optional<double> p_value;
};

// A model id or system fingerprint that differs from the baseline's (provider_changes[]).
struct ProviderChange {
  std::string suite;
  std::string provider;
  std::string feature; // "model" | "system_fingerprint"
  std::string baseline;
  std::string candidate;
  std::size_t cases = 0; // the run's cases that reported the new one
  std::string message;
};

// run.json as the reports and baselines read it: when the run started and what it selected (the
// runner reads the rest when it resumes).
struct RunStart {
  std::string started;              // ISO 8601, UTC; "" when unknown
  std::vector<std::string> filters; // --filter
  std::string provider;             // --provider; "" : every provider
  int shard_count = 0;              // --shard i/n: n; 0 or 1: not sharded
};

// The run.json in `value`, read leniently: what is missing or of another type is left unset.
RunStart run_start_from_json(const nlohmann::ordered_json& value);

struct RunSummary;
// The run holds every case of its suites: not made with --filter, --provider or --shard, and
// not interrupted. Only such a run is promotion evidence, and only against it do a baseline's
// missing cases count as removed (a merge of shards is whole).
bool is_whole_run(const RunStart& start, const RunSummary& summary);

// summary.json.
struct RunSummary {
  int format_version = k_results_format_version;
  std::string run_id;
  std::string against; // `report --against`: the run compared with; "" for the baselines
  std::vector<SuiteSummary> suites;
  CaseTotals totals;
  std::vector<std::string> regressions; // case ids over every suite
  std::vector<std::string> fixed;
  std::vector<DriftEntry> drift;
  std::vector<ProviderChange> provider_changes;
  bool gate_passed = true;
  std::vector<std::string> gate_reasons;
  std::int64_t input_tokens = 0; // the candidates' calls
  std::int64_t output_tokens = 0;
  std::optional<double> cost;
  std::size_t requests = 0; // sent, not taken from the cache or a resumed run
  std::size_t cached = 0;
  JudgeUsage judge;
  bool interrupted = false;
  std::string finished; // ISO 8601, UTC
};

// How a run ends, the one rule `promptops test`, `merge` and `report --against` follow: 3 when
// a case could not run or the run was interrupted (the verdict is incomplete), else 1 when a
// gate failed, else 0.
int exit_code(const RunSummary& summary);

nlohmann::ordered_json to_json(const RunSummary& summary);

// The summary in `value`, read leniently as case_result_from_json reads lines. Throws
// InputError(problem only) for a format_version newer than this build reads.
RunSummary run_summary_from_json(const nlohmann::ordered_json& value);

} // namespace promptops::golden
