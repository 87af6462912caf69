#pragma once

#include "golden/runner.hpp"

#include <chrono>
#include <string>
#include <string_view>

// What `promptops test` prints on a terminal.
namespace promptops::report {

// `text` made safe for a terminal: control characters (an escape sequence in a model's
// output could rewrite the screen) are shown as \xNN, and it is cut to `max` characters.
std::string terminal_safe(std::string_view text, std::size_t max = 200);

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
