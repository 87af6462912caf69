#include "tests/support/process.hpp"

#include "tests/support/temp_dir.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace promptops::test {

std::string promptops_binary() {
  const char* path = std::getenv("PROMPTOPS");
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error("PROMPTOPS is not set: run the tests through ctest");
  }
  return path;
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq != std::string::npos) {
      merged[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  merged["NO_COLOR"].assign(1, '1'); // not = "1": GCC 12 -O3 warns (-Wrestrict)
  for (const auto& [k, v] : env) {
    if (v.empty()) {
      merged.erase(k); // an empty value removes the variable
    } else {
      merged[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : merged) {
    std::string entry;
    entry.reserve(k.size() + 1 + v.size());
    entry.append(k).append(1, '=').append(v); // not k + "=" + v: GCC 12 -O3 warns (-Wrestrict)
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {

struct Started {
  pid_t pid = 0;
  std::unique_ptr<TempDir> io; // stdout and stderr go to files: no pipe can fill up
};

// Start argv[0] (looked up in PATH when it has no '/') with the rest of argv.
Started start_program(const std::vector<std::string>& argv_storage,
                      const std::filesystem::path& cwd,
                      const std::map<std::string, std::string>& env) {
  Started s;
  s.io = std::make_unique<TempDir>();
  const std::string out_path = (s.io->path() / "out").string();
  const std::string err_path = (s.io->path() / "err").string();
  const std::string& binary = argv_storage.at(0);

  std::vector<char*> argv;
  for (const auto& a : argv_storage) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);

  std::vector<std::string> env_storage = child_environment(env);
  std::vector<char*> envp;
  for (auto& e : env_storage) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  const int rc = posix_spawnp(&s.pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
  }
  return s;
}

Started start(const std::vector<std::string>& args, const std::filesystem::path& cwd,
              const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{promptops_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return start_program(argv, cwd, env);
}

ProcessResult finish(Started& s) {
  int status = 0;
  struct rusage usage {};
  while (wait4(s.pid, &status, 0, &usage) < 0) {
  }
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.peak_rss_kb = usage.ru_maxrss;
  result.out = s.io->read("out");
  result.err = s.io->read("err");
  return result;
}

} // namespace

ProcessResult run_promptops(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                            const std::map<std::string, std::string>& env) {
  Started s = start(args, cwd, env);
  return finish(s);
}

ProcessResult run_command(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                          const std::map<std::string, std::string>& env) {
  Started s = start_program(argv, cwd, env);
  return finish(s);
}

std::vector<ProcessResult>
run_promptops_together(const std::vector<std::vector<std::string>>& commands,
                       const std::filesystem::path& cwd,
                       const std::map<std::string, std::string>& env) {
  std::vector<Started> started;
  for (const auto& args : commands) {
    started.push_back(start(args, cwd, env));
  }
  std::vector<ProcessResult> results;
  for (auto& s : started) {
    results.push_back(finish(s));
  }
  return results;
}

} // namespace promptops::test
