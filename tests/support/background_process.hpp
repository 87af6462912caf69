#pragma once

#include "tests/support/temp_dir.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace promptops::test {

// The built promptops binary running in the background (a server), with stdout and stderr
// going to files that can be read while it runs. The destructor kills (SIGKILL) and reaps it
// if it is still running, and it is killed when the test runner dies (PR_SET_PDEATHSIG), so no
// test leaves a process behind.
class BackgroundProcess {
public:
  // Start promptops with `args` in folder `cwd`, its environment as child_environment(env).
  // Throws std::runtime_error when it cannot be started.
  BackgroundProcess(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                    const std::map<std::string, std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return m_pid; }

  // Wait until its stderr contains `text`, and return all of its stderr so far. Throws
  // std::runtime_error (quoting stderr) when the process ends first or `timeout` passes.
  std::string wait_for_stderr(std::string_view text, std::chrono::milliseconds timeout);

  // Send signal `sig` to it (nothing when it has already been reaped).
  void send_signal(int sig);

  // Wait for it to end: its exit status, or 128 + the signal that ended it. Throws
  // std::runtime_error when `timeout` passes first (it is left running).
  int wait(std::chrono::milliseconds timeout);

  bool running();
  std::string out() const { return m_io.read("out"); }
  std::string err() const { return m_io.read("err"); }

private:
  TempDir m_io;
  pid_t m_pid = -1;
  int m_status = -1; // set once reaped
};

// The port of the "listening on http://HOST:PORT" line in `err`, or -1 when there is none.
int listening_port(const std::string& err);

} // namespace promptops::test
