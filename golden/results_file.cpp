#include "golden/results_file.hpp"

#include "util/error.hpp"
#include "util/file.hpp"
#include "util/lines.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace promptops::golden {

ResultsFile::ResultsFile(const std::filesystem::path& path) : m_path(path) {
  m_fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) {
    throw RunError("cannot write " + path.string() + ": " + std::strerror(errno));
  }
}

ResultsFile::~ResultsFile() {
  if (m_fd >= 0) {
    ::fsync(m_fd);
    ::close(m_fd);
  }
}

void ResultsFile::append(const CaseResult& result) {
  if (!util::write_all(m_fd, result_line(result) + "\n")) {
    throw RunError("cannot write " + m_path.string() + ": " + std::strerror(errno));
  }
}

std::vector<CaseResult> read_finished_results(const std::filesystem::path& path) {
  std::vector<CaseResult> out;
  auto text = util::read_file_if_exists(path);
  if (!text) {
    return out;
  }
  const std::size_t last_newline = text->rfind('\n');
  const std::size_t keep = last_newline == std::string::npos ? 0 : last_newline + 1;
  if (keep != text->size()) {
    std::filesystem::resize_file(path, keep);
    text->resize(keep);
  }
  util::for_each_line(*text, [&out](std::size_t, std::string_view line) {
    const nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, false);
    if (j.is_object()) {
      out.push_back(case_result_from_json(j, Fingerprints::read));
    }
  });
  return out;
}

} // namespace promptops::golden
