#include "bench/support/bench_support.hpp"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/wait.h>

namespace promptops::bench {

namespace {

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

} // namespace

Spawned spawn_and_wait(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                       const std::vector<std::string>& env, const std::filesystem::path& scratch) {
  std::vector<std::string> arg_storage = args;
  std::vector<std::string> env_storage = env;
  const std::vector<char*> argv = pointers(arg_storage);
  const std::vector<char*> envp = pointers(env_storage);
  const std::filesystem::path out_path = scratch / "stdout.txt";
  const std::filesystem::path err_path = scratch / "stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  Spawned s;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, arg_storage[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw BenchError("cannot run " + arg_storage[0] + ": " + std::strerror(spawned));
  }
  rusage usage{};
  if (wait4(pid, &s.status, 0, &usage) != pid) {
    throw BenchError(std::string("wait4: ") + std::strerror(errno));
  }
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.maxrss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0; // KiB on Linux
  s.cpu_s = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  s.out = read_file(out_path);
  s.err = read_file(err_path);
  return s;
}

bool exited_with(const Spawned& s, int code, const std::vector<std::string>& args,
                 std::string& why) {
  if (WIFEXITED(s.status) && WEXITSTATUS(s.status) == code) {
    return true;
  }
  std::string line;
  for (const auto& a : args) {
    line += a + " ";
  }
  why = line + "(expected exit code " + std::to_string(code) + ") " +
        (WIFEXITED(s.status) ? "exited with code " + std::to_string(WEXITSTATUS(s.status))
                             : "was killed by signal " + std::to_string(WTERMSIG(s.status))) +
        "\nstdout:\n" + s.out.substr(0, 4000) + "\nstderr:\n" + s.err.substr(0, 4000);
  return false;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    throw BenchError("cannot write " + path.string());
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text; // not istreambuf_iterator: GCC 12 -O3 warns of a null dereference
  text << in.rdbuf();
  return text.str();
}

std::string load_average() {
  const std::string text = read_file("/proc/loadavg");
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

} // namespace promptops::bench
