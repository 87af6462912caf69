#pragma once

#include "golden/fingerprint.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
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
  double p_value = 1;    // adjusted for the number of features compared (Bonferroni)
  // The positions in the run's fingerprints of the outputs that show the change (`cases` of
  // them), so that a caller can name their case ids.
  std::vector<std::size_t> indices;
};

struct DriftOptions {
  // A change is reported only when its adjusted p-value is below `alpha`...
  double alpha = 0.001;
  // ...a categorical value's share of the outputs moved by at least `min_effect`...
  double min_effect = 0.25;
  // ...at least `min_cases` of the run's outputs show it...
  std::size_t min_cases = 3;
  // ...and, for a numeric feature, the median moved by this factor or more (on value + 1).
  double min_ratio = 2.0;
};

// Compare the distribution of every feature between the fingerprints of the baseline's
// outputs and the run's, and return the features that drifted, in the order of docs/drift.md
// (empty when the form held, or when either side is empty). Messages are safe to print.
std::vector<DriftFinding> detect_drift(const std::vector<Fingerprint>& baseline,
                                       const std::vector<Fingerprint>& run,
                                       const DriftOptions& options = {});
// The same on fingerprints held elsewhere (none may be null).
std::vector<DriftFinding> detect_drift(const std::vector<const Fingerprint*>& baseline,
                                       const std::vector<const Fingerprint*>& run,
                                       const DriftOptions& options = {});

// `finding` as {"feature", "baseline", "candidate", "cases", "message", "p_value"} (without the
// indices, which only the caller can turn into case ids).
nlohmann::json to_json(const DriftFinding& finding);

// The two-sided p-value of Fisher's exact test on the 2x2 table {{a, b}, {c, d}}: the total
// probability of the tables with the same margins that are no more likely than this one.
double fisher_exact(std::size_t a, std::size_t b, std::size_t c, std::size_t d);

// The two-sided p-value of the Mann-Whitney U test of `x` against `y`, by the normal
// approximation with tie and continuity corrections; 1 when either is empty or all values tie.
double mann_whitney(const std::vector<double>& x, const std::vector<double>& y);

} // namespace promptops::golden
