#include "tests/support/background_process.hpp"

#include "tests/support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <regex>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace promptops::test {

namespace {

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& args,
                                     const std::filesystem::path& cwd,
                                     const std::map<std::string, std::string>& env) {
  const std::string binary = promptops_binary();
  const std::string out_path = (m_io.path() / "out").string();
  const std::string err_path = (m_io.path() / "err").string();

  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  std::vector<std::string> env_storage = child_environment(env);
  std::vector<char*> envp;
  for (auto& e : env_storage) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  // fork and exec rather than posix_spawn, for PR_SET_PDEATHSIG: a test runner killed on a
  // timeout (SIGKILL: no destructor runs) must not leave a server behind.
  const pid_t parent = getpid();
  m_pid = fork();
  if (m_pid < 0) {
    throw std::runtime_error(std::string("cannot fork: ") + std::strerror(errno));
  }
  if (m_pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);
    }
    // The test runner may have blocked or ignored signals; the server gets the defaults.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
        chdir(cwd.c_str()) != 0) {
      _exit(127);
    }
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
}

BackgroundProcess::~BackgroundProcess() {
  if (m_pid > 0 && m_status < 0) {
    ::kill(m_pid, SIGKILL);
    int status = 0;
    while (waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

bool BackgroundProcess::running() {
  if (m_status >= 0) {
    return false;
  }
  int status = 0;
  const pid_t r = waitpid(m_pid, &status, WNOHANG);
  if (r == m_pid) {
    m_status = decode_status(status);
    return false;
  }
  return true;
}

std::string BackgroundProcess::wait_for_stderr(std::string_view text,
                                               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string so_far = err();
    if (so_far.find(text) != std::string::npos) {
      return so_far;
    }
    if (!running()) {
      throw std::runtime_error("promptops ended (status " + std::to_string(m_status) +
                               ") before printing \"" + std::string(text) + "\"; stderr:\n" +
                               err());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("promptops did not print \"" + std::string(text) + "\" in " +
                               std::to_string(timeout.count()) + " ms; stderr:\n" + so_far);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void BackgroundProcess::send_signal(int sig) {
  if (m_status < 0) {
    ::kill(m_pid, sig);
  }
}

int BackgroundProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("promptops still running after " + std::to_string(timeout.count()) +
                               " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return m_status;
}

int listening_port(const std::string& err) {
  static const std::regex k_line("listening on http://[^\\s]*:([0-9]+)\n");
  std::smatch m;
  if (!std::regex_search(err, m, k_line)) {
    return -1;
  }
  return std::stoi(m[1].str());
}

} // namespace promptops::test
