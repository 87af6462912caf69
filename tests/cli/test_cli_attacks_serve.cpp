// Issue 18, items 2 and 3: `promptops serve` under hostile clients (endless header lines, slow
// clients by the hundred, many connections from one address, a request that trickles forever),
// spoken to over raw sockets on 127.0.0.x. The limits are docs/security.md's.
#include "tests/support/background_process.hpp"
#include "tests/support/env_branch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using promptops::test::BackgroundProcess;
using promptops::test::commit_env_branch;
using promptops::test::files_from;
using promptops::test::listening_port;
using promptops::test::run_promptops;
using promptops::test::TempDir;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// The limits under test (serve/server.hpp's ServerLimits defaults).
constexpr int k_per_client = 16;
constexpr auto k_request_deadline = 10s;
// The server's memory under attack, in a build without sanitizers: a few MiB are normal.
constexpr long k_rss_limit_kb = 100L * 1024;

// The example registry with summarize pinned in prod, and `promptops serve` running on it.
struct Served {
  TempDir dir;
  std::unique_ptr<BackgroundProcess> server;
  int port = -1;

  Served() {
    if (run_promptops({"init", "demo"}, dir.path()).exit_code != 0) {
      throw std::runtime_error("promptops init failed");
    }
    const auto demo = dir.path() / "demo";
    commit_env_branch(demo, "prod", files_from(demo, {"prompts/summarize.yaml"}));
    server = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"serve", "--addr", "127.0.0.1:0"}, demo);
    port = listening_port(server->wait_for_stderr("listening on", 20s));
  }

  // The server's resident memory now (VmRSS), in KiB.
  long rss_kb() const {
    std::ifstream status("/proc/" + std::to_string(server->pid()) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        return std::stol(line.substr(6));
      }
    }
    return -1;
  }

  // GET /healthz from 127.0.0.1 on a new connection: true when it answers 200 within `limit`.
  bool healthy_within(std::chrono::milliseconds limit) const {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(limit);
    client.set_read_timeout(limit);
    client.set_write_timeout(limit);
    const auto start = Clock::now();
    const auto res = client.Get("/healthz");
    return res && res->status == 200 && Clock::now() - start <= limit;
  }
};

// A raw TCP connection to 127.0.0.1:`port` from address `from` (127.0.0.x: the whole of
// 127/8 is loopback on Linux, so each x is another client address to the server).
class Connection {
public:
  Connection(const std::string& from, int port) : m_fd(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (m_fd < 0) {
      throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (::bind(m_fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(m_fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0) {
      const int error = errno;
      ::close(m_fd);
      throw std::runtime_error("connect from " + from + ": " + std::strerror(error));
    }
  }
  ~Connection() { ::close(m_fd); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Send what fits without waiting; false once the server has closed the connection.
  bool send(std::string_view data) {
    const ssize_t sent = ::send(m_fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    m_sent += sent > 0 ? static_cast<std::size_t>(sent) : 0;
    return sent >= 0 || errno == EAGAIN;
  }

  // Read what has arrived within `wait` (appended to received()); false once the server has
  // closed the connection (end of stream or reset).
  bool read(std::chrono::milliseconds wait = 0ms) {
    pollfd p{m_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
      return true;
    }
    char buffer[4096];
    const ssize_t got = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got > 0) {
      m_received.append(buffer, static_cast<std::size_t>(got));
      return true;
    }
    return got < 0 && errno == EAGAIN;
  }

  // Whether the server has closed it, looking for up to `wait`.
  bool closed_within(std::chrono::milliseconds wait) {
    const auto until = Clock::now() + wait;
    do {
      if (!read(10ms)) {
        return true;
      }
    } while (Clock::now() < until);
    return false;
  }

  const std::string& received() const { return m_received; }
  std::size_t sent() const { return m_sent; }

private:
  int m_fd = -1;
  std::string m_received;
  std::size_t m_sent = 0;
};

// 500 client sockets and the server's: raise this process's descriptor limit to the hard one.
void allow_many_descriptors() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// One client sending header lines as fast as it can, reconnecting whenever the server closes
// it, until `stop`; counts the connections the server closed and keeps the first answer.
struct EndlessHeaders {
  std::atomic<bool> stop{false};
  std::atomic<int> closed{0};
  std::atomic<std::size_t> bytes{0};
  std::string first_answer;

  void run(int port) {
    const std::string line = "X-Endless: " + std::string(200, 'a') + "\r\n";
    std::string burst;
    for (int i = 0; i < 64; ++i) {
      burst += line;
    }
    while (!stop) {
      Connection c("127.0.0.1", port);
      bool open = c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      while (open && !stop) {
        open = c.send(burst) && c.read();
      }
      bytes += c.sent();
      if (!open) {
        c.closed_within(1s);
        if (closed++ == 0) {
          first_answer = c.received();
        }
      }
    }
  }
};

} // namespace

TEST_CASE("cli serve attacks, endless header lines are cut off and memory stays bounded",
          "[cli][git][serve][attacks]") {
  Served s;
  EndlessHeaders endless;
  std::thread attacker([&] { endless.run(s.port); });
  long peak_kb = 0;
  bool healthy = true;
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    std::this_thread::sleep_for(250ms);
    peak_kb = std::max(peak_kb, s.rss_kb());
    healthy = healthy && s.healthy_within(1000ms);
  }
  endless.stop = true;
  attacker.join();

  INFO("sent " << endless.bytes << " bytes; server peak RSS " << peak_kb << " KiB");
  // Cut off at the 32 KiB connection memory limit with libmicrohttpd's 431, again and again.
  CHECK(endless.closed >= 10);
  CHECK_THAT(endless.first_answer, Catch::StartsWith("HTTP/1.1 431 "));
  CHECK(healthy);
  CHECK(s.healthy_within(1000ms));
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(peak_kb < k_rss_limit_kb);
  CHECK(s.rss_kb() < k_rss_limit_kb);
#endif
  s.server->send_signal(SIGTERM);
  CHECK(s.server->wait(20s) == 0);
}

TEST_CASE("cli serve attacks, /healthz within 1 s while 500 slow clients and an endless one "
          "are connected",
          "[cli][git][serve][attacks]") {
  allow_many_descriptors();
  Served s;
  // 500 connections, 10 from each of 127.0.0.2 to 127.0.0.51 (under the per-address cap of 16),
  // each a request that never ends: one header line a second.
  constexpr int k_slow = 500;
  std::vector<std::unique_ptr<Connection>> slow;
  slow.reserve(k_slow);
  for (int i = 0; i < k_slow; ++i) {
    slow.push_back(std::make_unique<Connection>("127.0.0." + std::to_string(2 + i / 10), s.port));
    slow.back()->send("GET /v1/prompts/summarize HTTP/1.1\r\nHost: x\r\n");
  }
  EndlessHeaders endless;
  std::thread attacker([&] { endless.run(s.port); });

  int answered = 0;
  const auto until = Clock::now() + 3s;
  for (int tick = 0; Clock::now() < until; ++tick) {
    for (auto& c : slow) {
      c->send("X-Slow-" + std::to_string(tick) + ": 1\r\n");
    }
    const auto start = Clock::now();
    CHECK(s.healthy_within(1000ms));
    answered += 1;
    std::this_thread::sleep_for(1s - (Clock::now() - start));
  }
  endless.stop = true;
  attacker.join();

  // The slow clients were held, not dropped to make room: they are all still connected.
  int still_open = 0;
  for (auto& c : slow) {
    still_open += c->read() ? 1 : 0;
  }
  CHECK(answered >= 3);
  CHECK(still_open == k_slow);
  CHECK(endless.closed >= 1);
  slow.clear();
  s.server->send_signal(SIGTERM);
  CHECK(s.server->wait(20s) == 0);
}

TEST_CASE("cli serve attacks, connections beyond the per-address cap are closed",
          "[cli][git][serve][attacks]") {
  Served s;
  std::vector<std::unique_ptr<Connection>> held;
  held.reserve(k_per_client + 4);
  for (int i = 0; i < k_per_client + 4; ++i) {
    held.push_back(std::make_unique<Connection>("127.0.0.9", s.port));
  }
  int closed = 0;
  for (auto& c : held) {
    closed += c->closed_within(200ms) ? 1 : 0;
  }
  CHECK(closed == 4);
  // Another address is served meanwhile, and so is one of the connections that were kept.
  CHECK(s.healthy_within(1000ms));
  Connection& kept = *held.front();
  REQUIRE(kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  kept.read(1000ms);
  CHECK_THAT(kept.received(), Catch::StartsWith("HTTP/1.1 200 OK"));
  s.server->send_signal(SIGTERM);
  CHECK(s.server->wait(20s) == 0);
}

TEST_CASE("cli serve attacks, a request that trickles in is closed at the whole-request "
          "deadline",
          "[cli][git][serve][attacks]") {
  Served s;
  Connection c("127.0.0.1", s.port);
  const auto start = Clock::now();
  REQUIRE(c.send("GET /healthz HTTP/1.1\r\n"));
  // One header line a second: each read is well within the 5 s idle timeout.
  bool closed = false;
  for (int line = 0; !closed && Clock::now() - start < k_request_deadline + 4s; ++line) {
    closed = !c.send("X-Trickle-" + std::to_string(line) + ": 1\r\n") || c.closed_within(1s);
  }
  const auto lasted = Clock::now() - start;
  INFO("closed after " << std::chrono::duration<double>(lasted).count() << " s");
  CHECK(closed);
  CHECK(lasted >= k_request_deadline - 500ms);
  CHECK(lasted <= k_request_deadline + 2s);
  CHECK(c.received() == ""); // cut off, not answered
  CHECK(s.healthy_within(1000ms));
  s.server->send_signal(SIGTERM);
  CHECK(s.server->wait(20s) == 0);
}

TEST_CASE("cli serve attacks, caps on header fields, the request target and bodies",
          "[cli][git][serve][attacks]") {
  Served s;
  const auto ask = [&](const std::string& request) {
    Connection c("127.0.0.1", s.port);
    REQUIRE(c.send(request));
    c.closed_within(2s);
    return c.received();
  };
  const auto error_of = [](const std::string& answer) {
    const std::size_t body = answer.find("\r\n\r\n");
    return body == std::string::npos
               ? std::string()
               : nlohmann::json::parse(answer.substr(body + 4)).value("error", "");
  };
  std::string headers = "Host: x\r\nConnection: close\r\n";
  for (int i = 0; i < 98; ++i) {
    headers += "X-" + std::to_string(i) + ": 1\r\n";
  }
  // 100 fields are fine, 101 are too many.
  CHECK_THAT(ask("GET /healthz HTTP/1.1\r\n" + headers + "\r\n"),
             Catch::StartsWith("HTTP/1.1 200 OK"));
  const std::string too_many = ask("GET /healthz HTTP/1.1\r\n" + headers + "X-more: 1\r\n\r\n");
  CHECK_THAT(too_many, Catch::StartsWith("HTTP/1.1 431 "));
  CHECK(error_of(too_many) == "too many header fields");

  // Over 32 KiB of header lines: libmicrohttpd's own 431, before any handler runs.
  const std::string big =
      ask("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(std::size_t{40} * 1024, 'b') +
          "\r\n\r\n");
  CHECK_THAT(big, Catch::StartsWith("HTTP/1.1 431 "));

  const std::string long_target = ask("GET /v1/prompts/" + std::string(std::size_t{9} * 1024, 'a') +
                                      " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_THAT(long_target, Catch::StartsWith("HTTP/1.1 414 "));
  CHECK(error_of(long_target) == "request line too long");

  const std::string body =
      ask("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  CHECK_THAT(body, Catch::StartsWith("HTTP/1.1 413 "));
  CHECK(error_of(body) == "request body not accepted: the API is read-only");
  // A body declared over 64 KiB is refused as such before the method is looked at; none is read.
  CHECK_THAT(ask("POST /v1/prompts HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\nabc"),
             Catch::StartsWith("HTTP/1.1 413 "));
  CHECK_THAT(ask("POST /v1/prompts HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\nabc"),
             Catch::StartsWith("HTTP/1.1 405 "));
  s.server->send_signal(SIGTERM);
  CHECK(s.server->wait(20s) == 0);
}
