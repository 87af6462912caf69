#pragma once

#include "report/run_record.hpp"

#include <cstddef>
#include <string>

namespace promptops::report {

// The most a GitHub comment may hold (65,536 characters; counted here in bytes, which is
// never less).
constexpr std::size_t k_markdown_max_bytes = 65536;

// The run as GitHub-flavoured Markdown for a PR comment or $GITHUB_STEP_SUMMARY, most
// important first: the verdict (gate passed or FAILED, with its reasons), regressions against
// the baselines (case ids per suite and provider), drift and provider changes, each suite's
// totals, a table of failures (at most 50 rows), then up to `max_diffs` failed cases folded in
// <details> with their evaluations and output, then up to `max_diffs` outputs that changed
// against `baseline` as folded unified diffs (regressions first). It starts with the hidden
// marker "<!-- promptops:report -->" (to find and update a sticky comment). Text from the
// run is escaped so that it cannot add HTML, links, mentions or table cells; a report longer
// than `max_bytes` is cut between blocks with a note.
std::string markdown_report(const RunRecord& record, std::size_t max_diffs = 10,
                            std::size_t max_bytes = k_markdown_max_bytes,
                            const BaselineOutputs& baseline = {});

} // namespace promptops::report
