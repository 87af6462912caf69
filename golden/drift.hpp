#pragma once

#include "golden/fingerprint.hpp"
#include "golden/statistics.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Format drift: a systematic change in the form of a run's outputs against the baseline's
// (fences appear, keys change case, answers shrink), told apart from changes of content. The
// rules and thresholds are documented in docs/drift.md.
namespace promptops::golden {

// One feature whose distribution changed.
struct DriftFinding {
  std::string feature;   // e.g. "code_fence"
  std::string baseline;  // e.g. "0 of 50" or "median 528"
  std::string candidate; // e.g. "44 of 50 (```json)" or "median 4"
  std::size_t cases = 0; // the run's outputs that show the change
  std::string message;   // "44 of 50 outputs now wrap JSON in ```json fences (baseline 0 of 50)"
  // The chance of a change at least this strong in any feature compared, were the outputs
  // unchanged (family-wise: adjusted for every feature and value tested).
  double p_value = 1;
  // The positions in the run's outputs (in `detect_drift`'s cases, or its run fingerprints) of
  // the outputs that show the change (`cases` of them), so that a caller can name their ids.
  std::vector<std::size_t> indices;
  // What drifted: "format" for the form of the outputs (this file); "tokens", "cost" and
  // "latency" for what a run costs (golden/usage_drift.hpp).
  std::string kind = "format";
};

// How readily a change is called drift: promptops.yaml's gate.drift_sensitivity.
enum class DriftSensitivity { low, standard, high };

// "low", "default" or "high"; std::nullopt for anything else.
std::optional<DriftSensitivity> parse_drift_sensitivity(std::string_view name);
// "low", "default" or "high".
std::string_view to_string(DriftSensitivity sensitivity);

struct DriftOptions {
  // A change is reported only when its family-wise p-value is below `alpha` (the rate of false
  // alarms per suite and provider, at most)...
  double alpha = 0.01;
  // ...the share of the outputs that show it, net of those that changed the other way, is at
  // least `min_effect`...
  double min_effect = 0.1;
  // ...at least `min_cases` of the run's outputs show it...
  std::size_t min_cases = 3;
  // ...and, for a numeric feature, an output counts as changed when it moved by this factor or
  // more (on value + 1).
  double min_ratio = 2.0;
  // Random swaps of the two outputs of each case that the family-wise p-values of paired
  // cases are measured on (fixed seed: the same outputs give the same findings).
  std::size_t permutations = 2000;

  // The options of a sensitivity level (docs/drift.md has the table and its measurements).
  static DriftOptions for_sensitivity(DriftSensitivity sensitivity);
};

// One case's outputs: a pair when both sides have it, else one side only (null: absent).
struct DriftCase {
  const Fingerprint* baseline = nullptr;
  const Fingerprint* run = nullptr;
};

// Compare the form of the run's outputs with the baseline's and return the features that
// drifted, in the order of docs/drift.md (empty when the form held, or when either side is
// empty). Cases with both outputs are compared pair by pair (a case that changed form is a
// flip); outputs on one side only are compared as two samples. Messages are safe to print.
// The findings' indices are positions in `cases`.
std::vector<DriftFinding> detect_drift(const std::vector<DriftCase>& cases,
                                       const DriftOptions& options = {});

// The same on two samples of different cases (no pairs): indices are positions in `run`.
std::vector<DriftFinding> detect_drift(const std::vector<Fingerprint>& baseline,
                                       const std::vector<Fingerprint>& run,
                                       const DriftOptions& options = {});
std::vector<DriftFinding> detect_drift(const std::vector<const Fingerprint*>& baseline,
                                       const std::vector<const Fingerprint*>& run,
                                       const DriftOptions& options = {});

// `finding` as {"feature", "kind", "baseline", "candidate", "cases", "message", "p_value"}
// (without the indices, which only the caller can turn into case ids).
nlohmann::json to_json(const DriftFinding& finding);

} // namespace promptops::golden
