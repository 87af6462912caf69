#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

// What the whole-process benchmarks share: running promptops as a child with its wall time,
// CPU time and peak memory, files, and the machine's load.
namespace promptops::bench {

// Thrown when a file cannot be written or a child cannot be started or waited for.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One finished child process.
struct Spawned {
  int status = 0;       // as wait4 gives it
  double wall_s = 0;    // from spawn to exit
  double cpu_s = 0;     // the child's user + system time
  double maxrss_mb = 0; // the child's peak resident set (see spawn_and_wait)
  std::string out;      // its standard output
  std::string err;      // its standard error
};

// Runs `args` (args[0] a path) in `cwd` with the environment `env` ("NAME=value" each), its
// standard input from /dev/null and its output into stdout.txt and stderr.txt in `scratch`.
// Descriptors above 2 are closed in the child (a fake provider's sockets stay out of it). The
// child runs under GNU time (/usr/bin/time) when the machine has it, for a peak memory that is
// the child's alone: wait4's counts this process's own at the spawn, which it prints a warning
// about when there is no GNU time.
Spawned spawn_and_wait(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                       const std::vector<std::string>& env, const std::filesystem::path& scratch);

// Whether `s` exited with `code`; else "exited with code N" or "was killed by signal N" in
// `why`, followed by the command, its output and its errors (each cut at 4,000 bytes).
bool exited_with(const Spawned& s, int code, const std::vector<std::string>& args,
                 std::string& why);

// spawn_and_wait, then BenchError unless the child exited with `code` (its message says how it
// ended, with the command, its output and its errors).
Spawned spawn_expecting(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                        const std::vector<std::string>& env, const std::filesystem::path& scratch,
                        int code);

// The bench's folder: `keep` (made absolute) when it is given, else a new one,
// /tmp/promptops-NAME-XXXXXX. Throws BenchError when it cannot be made.
std::filesystem::path work_folder(const std::string& keep, const std::string& name);

void write_file(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path); // "" when it cannot be read

// The load averages over 1, 5 and 15 minutes: "1.52 1.20 0.98".
std::string load_average();

} // namespace promptops::bench
