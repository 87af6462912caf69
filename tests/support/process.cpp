#include "tests/support/process.hpp"

#include "tests/support/temp_dir.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
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

ProcessResult run_promptops(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                            const std::map<std::string, std::string>& env) {
  TempDir io; // stdout and stderr go to files: no pipe can fill up and deadlock
  const std::string out_path = (io.path() / "out").string();
  const std::string err_path = (io.path() / "err").string();
  const std::string binary = promptops_binary();

  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq != std::string::npos) {
      merged[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  merged["NO_COLOR"] = "1";
  for (const auto& [k, v] : env) {
    merged[k] = v;
  }
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : merged) {
    env_storage.push_back(k + "=" + v);
  }
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
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = io.read("out");
  result.err = io.read("err");
  return result;
}

} // namespace promptops::test
