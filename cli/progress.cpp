#include "cli/progress.hpp"

#include "report/terminal.hpp"

#include <cstdio>
#include <unistd.h>

namespace promptops::cli {

ProgressBar::ProgressBar() : m_enabled(::isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::update(std::size_t done, std::size_t total) {
  if (!m_enabled || total == 0) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (m_drawn && done < total && now - m_last < std::chrono::milliseconds(100)) {
    return;
  }
  m_last = now;
  std::fprintf(stderr, "\r%s", report::progress_bar(done, total).c_str());
  std::fflush(stderr);
  m_drawn = true;
}

void ProgressBar::finish() {
  if (m_drawn) {
    std::fprintf(stderr, "\r\x1b[2K");
    std::fflush(stderr);
    m_drawn = false;
  }
}

} // namespace promptops::cli
