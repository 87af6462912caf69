#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace promptops::test {

// A provider the fake cannot be, for tests: a one-thread HTTP server on 127.0.0.1 that reads
// each request whole (its headers and a Content-Length body), asks `answer` for the status and
// body, sends them (with their content type, Connection: close) and closes the connection.
class CannedServer {
public:
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
  };
  using Answer = std::function<Reply(const std::string& request)>;

  explicit CannedServer(Answer answer);
  ~CannedServer();
  CannedServer(const CannedServer&) = delete;
  CannedServer& operator=(const CannedServer&) = delete;

  std::string base_url() const; // http://127.0.0.1:PORT/v1
  int answered() const { return m_answered; }

private:
  void serve();
  void answer(int connection);

  Answer m_answer;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_answered{0};
  std::thread m_thread;
};

// Raw HTTP on a fresh connection to 127.0.0.1:`port`: sends `request` and reads one response (to
// its Content-Length), or until the server closes or 20 s pass. "" when nothing came.
std::string http_raw(int port, const std::string& request);

} // namespace promptops::test
