#pragma once

#include "golden/runner.hpp"

#include <chrono>
#include <cstddef>
#include <string>

// What `promptops test` prints on a terminal.
namespace promptops::report {

// True when colour is wanted on stdout: a TTY, and NO_COLOR unset or empty.
bool want_color();

// A progress bar on stderr, drawn only when stderr is a TTY and at most ten times a second.
class ProgressBar {
public:
  ProgressBar();
  ~ProgressBar();
  void update(std::size_t done, std::size_t total);
  void finish(); // clears the line

private:
  bool m_enabled = false;
  bool m_drawn = false;
  std::chrono::steady_clock::time_point m_last;
};

// The table of failures (at most `max_rows`), each suite's totals and gate, and the run's
// totals, tokens, cost, time and where its files are.
std::string format_outcome(const golden::RunOutcome& outcome, double seconds, bool color,
                           std::size_t max_rows = 50);

} // namespace promptops::report
