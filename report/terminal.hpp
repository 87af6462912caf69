#pragma once

#include "golden/runner.hpp"

#include <cstddef>
#include <string>

// What `promptops test` prints on a terminal.
namespace promptops::report {

// The progress bar's text for `done` of `total` cases: "[#####.....] 5/10 cases". Where it
// is drawn is the command's business (cli/progress.cpp).
std::string progress_bar(std::size_t done, std::size_t total);

// The table of failures (at most `max_rows`), each suite's totals and gate, and the run's
// totals, tokens, cost, time and where its files are.
std::string format_outcome(const golden::RunOutcome& outcome, double seconds, bool color,
                           std::size_t max_rows = 50);

} // namespace promptops::report
