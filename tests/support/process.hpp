#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace promptops::test {

struct ProcessResult {
  int exit_code = -1; // the exit status, or 128 + signal
  std::string out;
  std::string err;
  long peak_rss_kb = 0; // the child's peak resident memory (wait4's ru_maxrss), in KiB
};

// Run the built promptops binary (found through the PROMPTOPS environment variable that
// CTest sets) with `args` in folder `cwd`. `env` adds or replaces environment variables; an
// empty value removes one.
ProcessResult run_promptops(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                            const std::map<std::string, std::string>& env = {});

// Run any program (argv[0], looked up in PATH) the same way, with the same environment rules.
ProcessResult run_command(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                          const std::map<std::string, std::string>& env = {});

// Start every command at once (each a promptops argument list), then wait for all: for races.
std::vector<ProcessResult>
run_promptops_together(const std::vector<std::vector<std::string>>& commands,
                       const std::filesystem::path& cwd,
                       const std::map<std::string, std::string>& env = {});

// The environment for a child: this process's, with NO_COLOR=1, then `env` added or replacing
// (an empty value removes a variable). "NAME=value" entries.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& env);

// The path of the built promptops binary.
std::string promptops_binary();

} // namespace promptops::test
