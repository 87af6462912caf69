#include "bench/support/bench_support.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

// GNU time, when the machine has it (Debian's package time).
constexpr const char* k_time = "/usr/bin/time";

// The peak GNU time wrote to `path` ("%M", KiB, on the last line: before it, time may say
// "Command exited with non-zero status N"), in MB; 0 when there is none.
double peak_from_time(const std::filesystem::path& path) {
  std::string text = read_file(path);
  text.erase(text.find_last_not_of('\n') + 1);
  return std::atof(text.c_str() + text.rfind('\n') + 1) / 1024.0; // npos + 1: line 1
}

} // namespace

Spawned spawn_and_wait(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                       const std::vector<std::string>& env, const std::filesystem::path& scratch) {
  // wait4's ru_maxrss counts this process's resident size at the spawn (the child shares its
  // memory until it execs): a bench holding 200 MB showed /bin/true at 207 MB. GNU time in
  // between is a small process whose child's peak is the command's own; it adds about 1 ms.
  static const bool have_time = ::access(k_time, X_OK) == 0;
  static const bool warned = have_time || (std::fprintf(stderr,
                                                        "bench: no %s (Debian's package time): "
                                                        "peak memory includes the bench's own\n",
                                                        k_time) > 0);
  (void)warned;
  const std::filesystem::path peak_path = scratch / "peak-rss.txt";
  std::vector<std::string> arg_storage;
  if (have_time) {
    std::filesystem::remove(peak_path);
    arg_storage = {k_time, "-f", "%M", "-o", peak_path.string()};
  }
  arg_storage.insert(arg_storage.end(), args.begin(), args.end());
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
  s.maxrss_mb = have_time ? peak_from_time(peak_path)
                          : static_cast<double>(usage.ru_maxrss) / 1024.0; // KiB on Linux
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

Spawned spawn_expecting(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                        const std::vector<std::string>& env, const std::filesystem::path& scratch,
                        int code) {
  Spawned s = spawn_and_wait(args, cwd, env, scratch);
  if (std::string why; !exited_with(s, code, args, why)) {
    throw BenchError(why);
  }
  return s;
}

std::filesystem::path work_folder(const std::string& keep, const std::string& name) {
  if (!keep.empty()) {
    std::filesystem::create_directories(keep);
    return std::filesystem::absolute(keep);
  }
  std::string pattern = "/tmp/promptops-" + name + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw BenchError("cannot make a folder like " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
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
