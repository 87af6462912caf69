#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace promptops::util {

// What a command may print on its standard output before it is stopped (64 MiB, as a
// provider's reply); its standard error is kept to its first 64 KiB, the rest read and dropped.
inline constexpr std::size_t k_max_command_output = std::size_t{64} << 20;

struct CommandResult {
  int exit_code = -1; // -1: did not exit normally (killed, timed out, could not start)
  bool timed_out = false;
  std::string out;
  std::string err;
  // Why it could not start, or why it was stopped before it ended (its output too large,
  // promptops stopping); "" when it ran to its end or timed out.
  std::string failure;
  bool output_over_limit = false; // stopped because its output passed max_output_bytes
};

struct CommandOptions {
  double timeout_s = 30;
  std::filesystem::path workdir{}; // "" : the current folder
  std::size_t max_output_bytes = k_max_command_output;
  // Set (by a signal handler): the command is killed and `failure` says so.
  const std::atomic<bool>* stop = nullptr;
};

// Run `argv` with `input` on its standard input; collect its output. No shell is involved
// unless argv names one. The command runs in a process group of its own, and is done when it
// exits: what it wrote by then is read (a short drain), not what children it left behind (that
// still hold its output open) write later. Its whole group is then killed (SIGKILL), as it is
// after `timeout_s` (timed_out set), past `max_output_bytes` of output, or on `stop`.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          const CommandOptions& options);

// The same with the default output limit.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          double timeout_s, const std::filesystem::path& workdir);

} // namespace promptops::util
