#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace promptops::test {

// A provider the fake cannot be, for tests: an HTTP server on 127.0.0.1 that reads each request
// whole (its headers and a Content-Length body), asks `answer` for the status and body, sends
// them (with their content type, Connection: close) and closes the connection. It answers one
// connection at a time, or each on a thread of its own (Connections::concurrent: replies that
// overlap in time).
class CannedServer {
public:
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::string headers{}; // more header lines, each ending "\r\n" ("Content-Encoding: gzip")
    // Sent after `body`, `repeats` times, then `tail`: a huge body streamed, never held whole.
    std::string repeat{};
    std::uint64_t repeats = 0;
    std::string tail{};
    int pause_ms = 0; // between two repeats: a reply that comes in slowly
    // Declared in Content-Length instead of the body's true length (a server that lies).
    std::optional<std::uint64_t> content_length{};
  };
  using Answer = std::function<Reply(const std::string& request)>;
  enum class Connections { one_at_a_time, concurrent };

  explicit CannedServer(Answer answer, Connections connections = Connections::one_at_a_time);
  ~CannedServer();
  CannedServer(const CannedServer&) = delete;
  CannedServer& operator=(const CannedServer&) = delete;

  std::string base_url() const; // http://127.0.0.1:PORT/v1
  int answered() const { return m_answered; }

private:
  void serve();
  void answer(int connection);

  Answer m_answer;
  Connections m_connections;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_answered{0};
  std::thread m_thread;
  std::mutex m_mutex;
  std::vector<std::thread> m_workers; // Connections::concurrent: one per connection
};

// The case a request is for, when each case's prompt holds "[[case:NAME]]": NAME, or "".
std::string case_of(const std::string& request);

// Raw HTTP on a fresh connection to 127.0.0.1:`port`: sends `request` and reads one response (to
// its Content-Length), or until the server closes or 20 s pass. "" when nothing came.
std::string http_raw(int port, const std::string& request);

} // namespace promptops::test
