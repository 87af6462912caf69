#pragma once

#include "registry/config.hpp"
#include "report/run_record.hpp"

// `promptops report RUN --against OTHER`: a stored run compared with another stored run, as if
// the other run's outputs were the baseline (docs/reports.md).
namespace promptops::report {

// RUN's record with its summary rewritten against OTHER, and OTHER's outputs for the diffs of
// the Markdown and HTML reports.
struct AgainstRun {
  RunRecord record;
  BaselineOutputs baseline; // OTHER's outputs by (suite, provider, case id), as compared
};

// `run` compared with `other`. Per suite of RUN's summary and per provider of its candidates,
// the baseline is OTHER's result lines of that suite and provider (when OTHER ran several
// prompts of the suite on that provider: the lines of RUN's prompt, preferring the same ref,
// else those of OTHER's first prompt there); its "file" is "run <OTHER id>". A suite and
// provider OTHER has no line of gets no comparison. OTHER's cases in error have no output:
// they are not in the baseline (RUN's line for them counts as new).
//
// The summary's suites[].baselines, regressions, fixed, drift and provider_changes are
// replaced (tokens per case against OTHER's, cost at `config`'s current pricing on both sides,
// RUN's uncached calls' latency against OTHER's); every suite's gate is decided again from its
// totals and its recorded settings (min_pass_rate, max_regressions, fail_on_drift: a list of
// kinds or, from older runs, true for format; drift_sensitivity: "default" when not recorded),
// then the run's
// gate (failed, with its reason kept, when RUN was interrupted); "against" names OTHER.
// "removed" is null unless RUN is whole (no --filter, --provider or --shard, not interrupted).
// Throws InputError when OTHER was interrupted (its missing cases would look removed).
AgainstRun compare_runs(RunRecord run, const RunRecord& other, const registry::Config& config);

} // namespace promptops::report
