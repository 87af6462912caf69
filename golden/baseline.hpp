#pragma once

#include "golden/fingerprint.hpp"
#include "golden/usage_drift.hpp"
#include "registry/registry.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Baselines: the recorded outputs of a suite on a provider, committed under
// golden/baselines/<suite>/<provider>.jsonl, that every run is compared with.
namespace promptops::golden {

// "golden/baselines/<suite>/<provider>.jsonl", relative to the registry root.
std::string baseline_path(const std::string& suite, const std::string& provider);

// "golden/baselines/<suite>/<provider>.latency.json": the latency of the provider's uncached
// calls in the run the baseline was recorded from (LatencySummary's JSON).
std::string latency_summary_path(const std::string& suite, const std::string& provider);

// One line of a baseline. Only `output` is required; the rest is compared where present.
struct BaselineCase {
  std::string output;
  std::optional<std::string> status; // pass | fail | error
  std::optional<double> score;
  std::string model;              // as the provider reported it ("" when not recorded)
  std::string system_fingerprint; // "" when not recorded
  TokenUsage usage;               // the line's "usage", for tokens and cost drift
  // The names of the tools the reply called (the line's "tool_calls"), for its fingerprint.
  std::vector<std::string> tool_names;
  // The line's stored fingerprint when it is of the current version, else std::nullopt (it is
  // then computed from `output`).
  std::optional<Fingerprint> print;
};

struct Baseline {
  std::string path;                          // relative to the registry root
  std::string shown;                         // as shown in messages
  std::map<std::string, BaselineCase> cases; // by case id
  // The latency summary beside it (latency_summary_path), for latency drift; std::nullopt when
  // there is none.
  std::optional<LatencySummary> latency;
};

// The baseline of `suite` on `provider`, or std::nullopt when it has none. Lines naming
// another provider are skipped. Throws InputError naming the file and line of a bad line
// (not a JSON object, no string "id", no string "output", an id twice), and naming the latency
// summary when it is not one. Without
// `read_fingerprints` (the reports, which only show outputs) stored fingerprints are skipped.
std::optional<Baseline> load_baseline(const registry::Registry& registry, const std::string& suite,
                                      const std::string& provider, bool read_fingerprints = true);

// What record_baselines wrote.
struct RecordedBaseline {
  std::string shown; // the file, as shown in messages
  std::size_t cases = 0;
  bool replaced = false; // a baseline was there before
};

// Writes the baselines of the run in `run_dir` (a .promptops/runs/<id> folder): one file per
// suite and provider, lines sorted by case id, each file replaced atomically. `suites` limits
// it to those suites (empty: every suite of the run). When a suite runs several candidates on
// one provider, the working tree's prompt is recorded (else the first candidate's). Beside
// each file goes the latency summary of the recorded candidate's uncached calls (replaced
// atomically; kept as it was when the run made no uncached call there). Throws
// InputError when the run has no result for a suite asked for, and RunError when the run
// could not complete (a case in error, or interrupted): a baseline with holes would report
// the missing cases as removed.
std::vector<RecordedBaseline> record_baselines(const registry::Registry& registry,
                                               const std::filesystem::path& run_dir,
                                               const std::vector<std::string>& suites);

// The newest run folder under .promptops/runs (by the time its run.json was written), or
// std::nullopt when there is none.
std::optional<std::filesystem::path> latest_run(const registry::Registry& registry);

// The folder of run `id` under .promptops/runs, or the newest run's when `id` is "". Throws
// InputError: "no run<purpose> in .promptops/runs: run promptops test first" when there is no
// run at all (`purpose`: " to accept", or ""), and "no run "ID" in .promptops/runs" when `id` is
// not the plain name of a run there.
std::filesystem::path run_folder(const registry::Registry& registry, const std::string& id,
                                 const std::string& purpose = "");

} // namespace promptops::golden
