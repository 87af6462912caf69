// Whole-process timing of `promptops render`, beside `git show` on the same repository.
//
//   render_process PROMPTOPS_BINARY [RUNS]
//
// Creates a registry with `promptops init` in a temporary folder, commits it with git, then
// runs each command RUNS times (default 300), interleaved so that machine noise hits all of
// them alike, and prints the median and 90th percentile wall time of each, and ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

double run_once(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
  std::vector<char*> argv;
  std::vector<std::string> storage = args;
  for (auto& a : storage) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", 01 /*O_WRONLY*/, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", 01, 0);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawnp(&pid, storage[0].c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot run %s\n", storage[0].c_str());
    std::exit(2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const auto end = std::chrono::steady_clock::now();
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "command failed: %s ...\n", storage[0].c_str());
    std::exit(2);
  }
  return std::chrono::duration<double, std::milli>(end - start).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: render_process PROMPTOPS_BINARY [RUNS]\n");
    return 2;
  }
  const std::string promptops = std::filesystem::absolute(argv[1]).string();
  const int runs = argc > 2 ? std::atoi(argv[2]) : 300;
  char pattern[] = "/tmp/promptops-bench-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(pattern);
  const auto registry = dir / "demo";
  run_once({promptops, "init", registry.string()}, dir);
  run_once({"git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-C",
            registry.string(), "add", "-A"},
           dir);
  run_once({"git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-C",
            registry.string(), "commit", "-qm", "bench"},
           dir);

  struct Command {
    const char* label;
    std::vector<std::string> args;
    std::vector<double> times;
  };
  std::vector<Command> commands = {
      {"promptops --version", {promptops, "--version"}, {}},
      {"promptops render support/classify",
       {promptops, "render", "support/classify", "--var", "ticket=x"},
       {}},
      {"promptops render support/classify@HEAD",
       {promptops, "render", "support/classify@HEAD", "--var", "ticket=x"},
       {}},
      {"promptops render summarize --json",
       {promptops, "render", "summarize", "--json", "--vars-file", "vars/summarize.json"},
       {}},
      {"git show HEAD:prompts/support/classify.yaml",
       {"git", "show", "HEAD:prompts/support/classify.yaml"},
       {}},
  };
  for (int i = 0; i < runs; ++i) {
    for (auto& c : commands) {
      c.times.push_back(run_once(c.args, registry));
    }
  }
  std::printf("%-46s %10s %10s %12s\n", "command (whole process)", "median ms", "p90 ms",
              "vs git show");
  const double git = percentile(commands.back().times, 0.5);
  for (const auto& c : commands) {
    const double median = percentile(c.times, 0.5);
    std::printf("%-46s %10.2f %10.2f %11.2fx\n", c.label, median, percentile(c.times, 0.9),
                median / git);
  }
  std::printf("runs: %d each, interleaved\n", runs);
  std::filesystem::remove_all(dir);
  return 0;
}
