#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace promptops::serve {

// A deadline per whole request, which the HTTP library lacks (its timeout restarts with every
// byte, so a client that trickles one byte a second holds a connection forever). Connections
// are registered with their socket when opened and forgotten when closed; a thread shuts down
// (never closes: the library owns the descriptor) the socket of every connection whose request
// has run past the deadline, and the library then closes the connection as if the client had
// hung up. Thread-safe.
class RequestDeadlines {
public:
  explicit RequestDeadlines(std::chrono::milliseconds deadline);
  ~RequestDeadlines(); // stops the thread
  RequestDeadlines(const RequestDeadlines&) = delete;
  RequestDeadlines& operator=(const RequestDeadlines&) = delete;

  // A new connection `key` on socket `fd`: its first request's clock starts now.
  void opened(const void* key, int fd);
  // The connection's request was answered: the next request on it (keep-alive) starts now.
  void answered(const void* key);
  // The connection is about to be closed: `fd` must not be touched after this returns.
  void closed(const void* key);

private:
  struct Entry {
    int fd = -1;
    std::chrono::steady_clock::time_point deadline{};
    bool cut = false;
  };
  void watch();

  std::chrono::milliseconds m_deadline;
  std::mutex m_mutex; // guards everything below
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::unordered_map<const void*, Entry> m_entries;
  std::thread m_thread;
};

} // namespace promptops::serve
