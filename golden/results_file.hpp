#pragma once

#include "golden/result.hpp"

#include <filesystem>
#include <vector>

// results.jsonl on disk: appended a whole line per case as the run goes, read back to resume.
namespace promptops::golden {

// Appends one whole line per write, so that a run killed at any moment leaves every finished
// case readable (at worst, a last partial line that --resume drops). fsynced when closed.
class ResultsFile {
public:
  // Throws RunError when the file cannot be opened for appending.
  explicit ResultsFile(const std::filesystem::path& path);
  ~ResultsFile();
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  // Throws RunError when the line cannot be written.
  void append(const CaseResult& result);

private:
  std::filesystem::path m_path;
  int m_fd = -1;
};

// The results already written to `path` (none when it does not exist), with their stored
// fingerprints; a last line cut short by a kill is dropped from the file, so that appending
// continues on a line boundary. Lines that are not JSON objects are skipped.
std::vector<CaseResult> read_finished_results(const std::filesystem::path& path);

} // namespace promptops::golden
