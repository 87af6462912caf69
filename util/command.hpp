#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace promptops::util {

struct CommandResult {
  int exit_code = -1; // -1: did not exit normally (killed, timed out, could not start)
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string failure; // why it could not start, when it could not
};

// Run `argv` in `workdir` with `input` on its standard input; collect its output. After
// `timeout_s` the process is killed (SIGKILL) and timed_out is set. No shell is involved
// unless argv names one.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          double timeout_s, const std::filesystem::path& workdir);

} // namespace promptops::util
