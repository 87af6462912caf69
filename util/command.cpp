#include "util/command.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace promptops::util {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int& f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
  void close_end(int i) {
    if (fd[i] >= 0) {
      ::close(fd[i]);
      fd[i] = -1;
    }
  }
};

// While it lives, a write to a pipe whose reader is gone is EPIPE on this thread, not a
// SIGPIPE that kills the process (a command need not read all of its input). A SIGPIPE raised
// meanwhile is taken off the thread before the old mask comes back.
class BlockSigpipe {
public:
  BlockSigpipe() {
    sigemptyset(&m_pipe);
    sigaddset(&m_pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &m_pipe, &m_old);
  }
  ~BlockSigpipe() {
    if (sigismember(&m_old, SIGPIPE) == 0) {
      const timespec zero{0, 0};
      while (sigtimedwait(&m_pipe, nullptr, &zero) > 0) {
      }
      pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
    }
  }
  BlockSigpipe(const BlockSigpipe&) = delete;
  BlockSigpipe& operator=(const BlockSigpipe&) = delete;

private:
  sigset_t m_pipe{};
  sigset_t m_old{};
};

// Whether `pid` has exited, without reaping it: until it is reaped its pid stays the id of its
// process group, which is killed next.
bool exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Starts `argv` in a process group of its own, its standard streams on the pipes' ends. Returns
// its pid, or -1 with `failure` set.
pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& workdir,
            const Pipe& in, const Pipe& out, const Pipe& err, std::string& failure) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  if (!workdir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, workdir.c_str());
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  // The command starts with SIGPIPE at its default and unblocked, whatever this process does
  // with it (an ignored signal would otherwise be inherited across exec). Its own process group
  // lets it and whatever it starts be killed together: a shell's background child would
  // otherwise outlive it, and promptops.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &pipe_only);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    failure = "cannot run \"" + argv[0] + "\": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

// Feeds the command its input and reads its output until it exits (and a short drain after),
// its time is up, its output passes the limit or `stop` is set.
class Exchange {
public:
  Exchange(pid_t pid, const std::string& input, const CommandOptions& options, Pipe& in, Pipe& out,
           Pipe& err)
      : m_pid(pid), m_input(input), m_options(options), m_in(in), m_out(out), m_err(err) {}

  void run(CommandResult& result) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(
                                             static_cast<long long>(m_options.timeout_s * 1000));
    std::optional<Clock::time_point> drain_until;
    if (m_input.empty()) {
      m_in.close_end(1);
    }
    while (m_out.fd[0] >= 0 || m_err.fd[0] >= 0) {
      const auto now = Clock::now();
      if (!drain_until) {
        if (now >= deadline) {
          result.timed_out = true;
          return;
        }
        if (m_options.stop != nullptr && m_options.stop->load()) {
          result.failure = "stopped before it ended: promptops is stopping";
          return;
        }
        if (exited(m_pid)) {
          // Done. What it wrote is in the pipes; children it left may hold them open for ever.
          drain_until = now + k_drain;
          m_in.close_end(1);
        }
      }
      const auto until = drain_until ? *drain_until : std::min(deadline, now + k_slice);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
      if (drain_until && left <= 0) {
        return;
      }
      if (!exchange(static_cast<int>(std::max<long long>(left, 0)), result)) {
        return;
      }
    }
    // Its output is closed, but it may not have exited yet (or still be at work): its group is
    // killed only once it has.
    auto pause = std::chrono::microseconds(100);
    while (!drain_until && !exited(m_pid)) {
      if (Clock::now() >= deadline) {
        result.timed_out = true;
        return;
      }
      if (m_options.stop != nullptr && m_options.stop->load()) {
        result.failure = "stopped before it ended: promptops is stopping";
        return;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(10'000));
    }
  }

private:
  static constexpr auto k_drain = std::chrono::milliseconds(100);
  // How often exit, time and stop are looked at while the output stays open.
  static constexpr auto k_slice = std::chrono::milliseconds(50);
  static constexpr std::size_t k_max_err = 64 * 1024;

  // One poll: input written, output read. False when the output passed its limit.
  bool exchange(int wait_ms, CommandResult& result) {
    pollfd fds[3];
    nfds_t n = 0;
    if (m_in.fd[1] >= 0) {
      fds[n++] = {m_in.fd[1], POLLOUT, 0};
    }
    if (m_out.fd[0] >= 0) {
      fds[n++] = {m_out.fd[0], POLLIN, 0};
    }
    if (m_err.fd[0] >= 0) {
      fds[n++] = {m_err.fd[0], POLLIN, 0};
    }
    if (::poll(fds, n, wait_ms) <= 0) {
      return true;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (fds[i].fd == m_in.fd[1]) {
        write_input();
        continue;
      }
      const bool is_out = fds[i].fd == m_out.fd[0];
      const ssize_t r = ::read(fds[i].fd, m_buffer, sizeof m_buffer);
      if (r <= 0) {
        if (r == 0 || errno != EINTR) {
          (is_out ? m_out : m_err).close_end(0);
        }
        continue;
      }
      const auto got = static_cast<std::size_t>(r);
      if (!is_out) {
        result.err.append(m_buffer,
                          std::min(got, k_max_err - std::min(k_max_err, result.err.size())));
      } else if (result.out.size() + got > m_options.max_output_bytes) {
        result.output_over_limit = true;
        result.failure = "the command's output exceeds " +
                         text::size_text(static_cast<std::int64_t>(m_options.max_output_bytes));
        return false;
      } else {
        result.out.append(m_buffer, got);
      }
    }
    return true;
  }

  void write_input() {
    const ssize_t w = ::write(m_in.fd[1], m_input.data() + m_written, m_input.size() - m_written);
    if (w > 0) {
      m_written += static_cast<std::size_t>(w);
    }
    if (w < 0 && errno != EAGAIN) {
      m_in.close_end(1); // the command stopped reading (EPIPE): not our failure
    } else if (m_written == m_input.size()) {
      m_in.close_end(1);
    }
  }

  pid_t m_pid;
  const std::string& m_input;
  const CommandOptions& m_options;
  Pipe& m_in;
  Pipe& m_out;
  Pipe& m_err;
  std::size_t m_written = 0;
  char m_buffer[65536];
};

} // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          const CommandOptions& options) {
  CommandResult result;
  const BlockSigpipe no_sigpipe;
  if (argv.empty()) {
    result.failure = "empty command";
    return result;
  }
  Pipe in, out, err;
  if (::pipe2(in.fd, O_CLOEXEC) != 0 || ::pipe2(out.fd, O_CLOEXEC) != 0 ||
      ::pipe2(err.fd, O_CLOEXEC) != 0) {
    result.failure = std::string("cannot create a pipe: ") + std::strerror(errno);
    return result;
  }
  const pid_t pid = spawn(argv, options.workdir, in, out, err, result.failure);
  if (pid < 0) {
    return result;
  }
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  Exchange(pid, input, options, in, out, err).run(result);
  // The whole group, whatever ended the exchange: what the command left running goes with it.
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.timed_out && result.failure.empty() && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          double timeout_s, const std::filesystem::path& workdir) {
  CommandOptions options;
  options.timeout_s = timeout_s;
  options.workdir = workdir;
  return run_command(argv, input, options);
}

} // namespace promptops::util
