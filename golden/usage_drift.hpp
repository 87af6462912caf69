#pragma once

#include "golden/drift.hpp"
#include "registry/config.hpp"
#include "reply/reply.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Tokens, cost and latency drift: a run that costs more (or less) per case than its baseline
// with the same text, as when a silent update bills hidden reasoning tokens or answers slower.
// Pure functions; the rules and thresholds are in docs/drift.md ("Tokens, cost and latency").
namespace promptops::golden {

// The tokens of one call, as its result line's "usage" recorded them (unset: not reported).
using TokenUsage = reply::Usage;

// The "usage" of a result or baseline line; what is missing or not an integer stays unset.
TokenUsage token_usage_of(const nlohmann::ordered_json& line);

// A provider's prices per million tokens (promptops.yaml's providers.<name>.pricing).
using Pricing = reply::Pricing;

// The pricing of `provider` in `config`, or std::nullopt when it has none (or is not there).
std::optional<Pricing> pricing_of(const registry::Config& config, const std::string& provider);

// The latency of a provider's uncached calls in one run: what
// golden/baselines/<suite>/<provider>.latency.json holds.
struct LatencySummary {
  std::size_t calls = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  std::string run_id; // the run the calls were made in
};

// The summary of `latencies_ms` (nearest-rank p50 and p95), or std::nullopt when it is empty.
std::optional<LatencySummary> summarize_latency(const std::vector<double>& latencies_ms,
                                                const std::string& run_id);

// {"calls", "p50_ms", "p95_ms", "run_id"}.
nlohmann::ordered_json to_json(const LatencySummary& summary);

// The summary in `value`, or std::nullopt when it is not {"calls": a positive integer,
// "p50_ms" and "p95_ms": numbers of at least 0, "run_id"?: a string}.
std::optional<LatencySummary> latency_summary_from_json(const nlohmann::json& value);

// The effect floors: a change smaller than these is never reported, however significant, so
// that the ordinary variation of tokens and of a network's latency stays quiet. Tokens and
// cost: the median over the paired cases of (run + 1) / (baseline + 1) tokens (for cost: in
// units of the dearer token's price) at least this, or at most its inverse.
inline constexpr double k_min_usage_ratio = 1.5;
// Latency: the run's p50 or p95 of uncached calls at least this times the baseline's, or at
// most its inverse...
inline constexpr double k_min_latency_ratio = 2.0;
// ...and apart by at least this many milliseconds, so that a local provider's few
// milliseconds (exec, echo, replay) on a busy machine stay quiet.
inline constexpr double k_min_latency_change_ms = 50;

// One output of the run, with the usage the baseline recorded for the same case (null: the
// case is new).
struct UsageCase {
  const TokenUsage* baseline = nullptr;
  TokenUsage run;
};

// Tokens and cost per case, paired by case: "output_tokens" and "input_tokens" (kind
// "tokens"), then "cost" (kind "cost", at `pricing` on both sides; skipped without pricing).
// A feature drifts when at least `options.min_cases` cases have it on both sides, the
// Wilcoxon signed-rank p-value of run minus baseline is below `options.alpha`, the median
// per-case ratio passes k_min_usage_ratio, and at least `options.min_cases` cases moved that
// way. The findings' indices are positions in `cases` of the cases that moved that way.
std::vector<DriftFinding> detect_usage_drift(const std::vector<UsageCase>& cases,
                                             const std::optional<Pricing>& pricing,
                                             const DriftOptions& options = {});

// The run's uncached calls (`run_ms`) against the baseline's summary: "latency" drifts when
// at least `options.min_cases` calls were made, the exact sign test of the calls above
// against below the baseline's p50 is below `options.alpha`, and the run's p50 or p95 passes
// k_min_latency_ratio and k_min_latency_change_ms against the baseline's, the same way. The
// finding's indices are positions in `run_ms` of the calls on the side it moved to.
std::optional<DriftFinding> detect_latency_drift(const std::vector<double>& run_ms,
                                                 const LatencySummary& baseline,
                                                 const DriftOptions& options = {});

} // namespace promptops::golden
