#pragma once

#include <chrono>
#include <cstddef>

namespace promptops::cli {

// The progress bar of a run on stderr (report::progress_bar's text), drawn only when stderr
// is a TTY and at most ten times a second.
class ProgressBar {
public:
  ProgressBar();
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(std::size_t done, std::size_t total);
  void finish(); // clears the line

private:
  bool m_enabled = false;
  bool m_drawn = false;
  std::chrono::steady_clock::time_point m_last;
};

} // namespace promptops::cli
